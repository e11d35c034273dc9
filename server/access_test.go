package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"gopkg.in/yaml.v3"

	"zhili/access"
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

// TestHeavyQueriesPerPrincipal: a principal's history queries beyond MaxHeavyPerPrincipal at
// once get 429 busy with Retry-After; another principal is not held up; a finished query frees
// its place.
func TestHeavyQueriesPerPrincipal(t *testing.T) {
	srv := New(Config{ViewTokens: map[string]Viewer{"a": {Name: "a"}, "b": {Name: "b"}}}, Deps{})
	app := fiber.New(fiber.Config{ErrorHandler: srv.errorHandler})
	hold := make(chan struct{})
	entered := make(chan struct{}, 16)
	app.Get("/q", srv.require(access.Readers, true), func(c *fiber.Ctx) error {
		entered <- struct{}{}
		<-hold
		return c.SendString("ok")
	})
	get := func(tok string) *http.Response {
		resp, err := app.Test(httptest.NewRequest("GET", "/q?token="+tok, nil), -1)
		if err != nil {
			t.Error(err)
		}
		return resp
	}
	done := make(chan int, MaxHeavyPerPrincipal)
	for range MaxHeavyPerPrincipal {
		go func() { done <- get("a").StatusCode }()
		<-entered
	}
	if resp := get("a"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("query %d of one token: %d, want 429 with Retry-After", MaxHeavyPerPrincipal+1, resp.StatusCode)
	}
	go func() { done <- get("b").StatusCode }()
	<-entered // another token's query runs
	close(hold)
	for range MaxHeavyPerPrincipal + 1 {
		if st := <-done; st != 200 {
			t.Fatalf("held query: %d", st)
		}
	}
	if st := get("a").StatusCode; st != 200 {
		t.Fatalf("after the queries finished: %d", st)
	}
}

// TestOpenAPICoversRoutes: every API route of the access table is described in openapi.yaml.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range Rules {
		if !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is not in openapi.yaml (as %s)", r.Method, r.Path, p)
		}
	}
}
