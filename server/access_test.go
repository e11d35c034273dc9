package server

import (
	"os"
	"strings"
	"testing"
)

// TestAccessDocMatchesTable keeps docs/ACCESS.md's table equal to Rules.
func TestAccessDocMatchesTable(t *testing.T) {
	b, err := os.ReadFile("../docs/ACCESS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, "<!-- access-table -->"), strings.Index(doc, "<!-- /access-table -->")
	if start < 0 || end < start {
		t.Fatal("docs/ACCESS.md: access-table markers missing")
	}
	var got []string
	for _, line := range strings.Split(doc[start:end], "\n") {
		if strings.HasPrefix(line, "| GET") || strings.HasPrefix(line, "| POST") {
			got = append(got, line)
		}
	}
	var want []string
	for _, r := range Rules {
		roles := "public"
		if !r.Public {
			roles = strings.ReplaceAll(r.Roles.String(), ",", ", ")
		}
		want = append(want, "| "+r.Method+" | `"+r.Path+"` | "+roles+" | "+r.What+" |")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/ACCESS.md's table differs from server.Rules; it should read:\n%s", strings.Join(want, "\n"))
	}
}
