package main

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"

	"zhili/evaluation"
)

// evaluationSection is the config file's top-level section of the evaluation's weights and
// guards (docs/EVALUATION.md).
const evaluationSection = "evaluation"

// evaluationConfig reads the evaluation section of the config file (absent: the defaults); an
// unknown key or a bad weight refuses to start, naming the file and line.
func (cf *configFile) evaluationConfig() (evaluation.Config, error) {
	var c evaluation.Config
	root := &cf.Doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return c, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != evaluationSection {
			continue
		}
		n := root.Content[i+1]
		b, err := yaml.Marshal(n)
		if err != nil {
			return c, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("%s:%d: evaluation: %v", cf.Path, n.Line, err)
		}
		if _, err := c.Resolved(); err != nil {
			return c, fmt.Errorf("%s:%d: %v", cf.Path, n.Line, err)
		}
	}
	return c, nil
}
