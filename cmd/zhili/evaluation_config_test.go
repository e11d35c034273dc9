package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvaluationConfigSection(t *testing.T) {
	dir := t.TempDir()
	read := func(body string) (float64, error) {
		p := filepath.Join(dir, "zhili.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cf, err := loadConfigFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cf.evaluationConfig()
		return c.SurveyWeight, err
	}
	if w, err := read("listen: :8080\nevaluation:\n  survey_weight: 0.7\n  data_weight: 0.3\n  min_raters: 5\n  type_weights: {superior: 1, served: 1}\n"); err != nil || w != 0.7 {
		t.Errorf("good section: %v %v", w, err)
	}
	if _, err := read("evaluation:\n  survey_weigth: 0.7\n"); err == nil || !strings.Contains(err.Error(), "zhili.yaml:2") {
		t.Errorf("misspelt key: %v", err)
	}
	if _, err := read("evaluation:\n  type_weights: {boss: 1}\n"); err == nil || !strings.Contains(err.Error(), `unknown key "boss"`) {
		t.Errorf("unknown evaluator type: %v", err)
	}
	if _, err := read("evaluation:\n  rate_adjust: bayes\n"); err == nil || !strings.Contains(err.Error(), "rate_adjust") {
		t.Errorf("unknown rate adjustment: %v", err)
	}
	if w, err := read("listen: :8080\n"); err != nil || w != 0 {
		t.Errorf("no section: %v %v", w, err)
	}
}
