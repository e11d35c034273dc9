package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/catalog"
	"zhili/geo"
	"zhili/roster"
	"zhili/simulate"
)

// peopleState is the people layer as the page shows it (window.__zhili.people).
type peopleState struct {
	Shown  bool             `json:"shown"`
	Totals map[string]int64 `json:"totals"`
	Marked []string         `json:"marked"`
	Lines  []struct {
		Level   string `json:"level"`
		Line    string `json:"line"`
		Orgs    int64  `json:"orgs"`
		Regions int64  `json:"regions"`
		InForce int64  `json:"in_force"`
	} `json:"lines"`
}

func readPeople(t *testing.T, ctx context.Context) peopleState {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Evaluate[peopleState](`window.__zhili.people`))
	if err != nil {
		t.Fatalf("people state: %v", err)
	}
	return p
}

// The people layer of the overview: grid staffing with on-duty counts from staff.duty records
// (uncovered grids marked on the map, counts only) and the party organisation of the 王
// structure line by line, in Chinese and in English at 1920×1080.
func TestPeopleLayer(t *testing.T) {
	t.Parallel()
	srv, guard, ctx, page := wallServer(t)
	tree := xinyang(t)
	// The server's demo roster: the demo city's, from the default seed and catalogue.
	ro := roster.Demo(tree, catalog.Default(), simulate.DefaultDemoSeed)
	county := tree.Root.Children[0]
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now()
	day := now.In(loc).Format("2006-01-02")
	// A township of the county with grids all of whose staff come on duty.
	var town *geo.Region
	var staff []roster.GridStaff
	for _, tw := range county.Children {
		in := map[string]bool{}
		for _, g := range tw.Children {
			in[g.Code] = true
		}
		staff = staff[:0]
		heads := map[string]bool{}
		for _, g := range ro.GridStaff {
			if in[g.Grid] && g.At(day) {
				staff = append(staff, g)
				if g.Role == "head" {
					heads[g.Grid] = true
				}
			}
		}
		if len(tw.Children) >= 2 && len(heads) == len(tw.Children) {
			town = tw
			break
		}
	}
	if town == nil {
		t.Fatalf("no township of %s with a head in every grid", county.Name)
	}
	grids := 0
	for _, tw := range county.Children {
		grids += len(tw.Children)
	}

	u := page + "&region=" + url.QueryEscape(county.Code) + "&choropleth=staff"
	open(t, ctx, u, 1920, 1080)
	if err := waitFor(ctx, `window.__zhili.people.shown && window.__zhili.people.lines.length === 3 && window.__zhili.people.totals && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("people layer not shown: %v (%s)", err, jsJSON(ctx, `window.__zhili.people`))
	}
	p := readPeople(t, ctx)
	if p.Totals["grids"] != int64(grids) || p.Totals["on_duty"] != 0 || len(p.Marked) != grids {
		t.Fatalf("before any check-in: totals %v, %d marked of %d grids", p.Totals, len(p.Marked), grids)
	}
	for i, l := range p.Lines {
		if want := []string{"顶线", "中线", "底线"}[i]; l.Line != want || l.Orgs == 0 || l.Regions == 0 || l.InForce > l.Regions {
			t.Errorf("party line %d: %+v, want %s with organisations", i, l, want)
		}
	}

	// Check-ins of the township's staff: the map shows them within seconds.
	var body strings.Builder
	at := now.Add(-time.Minute).Format(time.RFC3339)
	for i, g := range staff {
		fmt.Fprintf(&body, `{"id":"pl-in-%d-%d","type":"staff.duty","at":%q,"duty":{"staff":%q,"grid":%q,"state":"on"}}`+"\n", now.UnixNano(), i, at, g.ID, g.Grid)
	}
	sent := time.Now()
	srv.ingest(t, body.String(), len(staff))
	want := len(staff)
	expr := fmt.Sprintf(`window.__zhili.people.totals.on_duty === %d && window.__zhili.people.marked.length === %d`, want, grids-len(town.Children))
	if err := waitFor(ctx, expr, 5*time.Second); err != nil {
		t.Fatalf("staffing after %d check-ins: %v (%s)", want, err, jsJSON(ctx, `window.__zhili.people.totals`))
	}
	t.Logf("%d check-ins shown after %v", want, time.Since(sent).Round(time.Millisecond))
	// A check-out (a later record) takes one off duty; a late check-in older than it changes nothing.
	g0 := staff[0]
	out := now.Format(time.RFC3339)
	late := now.Add(-30 * time.Second).Format(time.RFC3339)
	srv.ingest(t, fmt.Sprintf(`{"id":"pl-out-%d","type":"staff.duty","at":%q,"duty":{"staff":%q,"grid":%q,"state":"off"}}`+"\n"+
		`{"id":"pl-late-%d","type":"staff.duty","at":%q,"duty":{"staff":%q,"grid":%q,"state":"on"}}`+"\n",
		now.UnixNano(), out, g0.ID, g0.Grid, now.UnixNano(), late, g0.ID, g0.Grid), 2)
	if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.people.totals.on_duty === %d`, want-1), 5*time.Second); err != nil {
		t.Fatalf("after a check-out: %v (%s)", err, jsJSON(ctx, `window.__zhili.people.totals`))
	}
	// The panel: counts and the 王 lines, no name of a person.
	text := evalString(t, ctx, `document.getElementById('people-panel').innerText`)
	for _, w := range []string{"顶线", "中线", "底线", "竖线", "县区党委", "一线指挥部", "前线指挥所", "攻坚小分队", "当前在岗"} {
		if !strings.Contains(text, w) {
			t.Errorf("people panel lacks %q:\n%s", w, text)
		}
	}
	for _, g := range staff {
		if strings.Contains(text, g.Name) || strings.Contains(evalString(t, ctx, `document.body.innerText`), g.Name) {
			t.Errorf("the wall shows the name of grid staff %s", g.ID)
		}
	}
	checkPeoplePanel(t, ctx)
	screenshot(t, ctx, "wall-people-zh.png")

	open(t, ctx, u+"&lang=en", 1920, 1080)
	if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.people.shown && window.__zhili.people.totals && window.__zhili.people.totals.on_duty === %d && window.__zhili.settled()`, want-1), 30*time.Second); err != nil {
		t.Fatalf("English people layer: %v", err)
	}
	text = evalString(t, ctx, `document.getElementById('people-panel').innerText`)
	for _, w := range []string{"Top", "Middle", "Bottom", "Vertical", "County committee", "On duty now"} {
		if !strings.Contains(text, w) {
			t.Errorf("English people panel lacks %q:\n%s", w, text)
		}
	}
	checkPeoplePanel(t, ctx)
	screenshot(t, ctx, "wall-people-en.png")

	// At the city the map's cells are townships (grids too small to see): every township but
	// the checked-in one is marked uncovered; the whole city's grids are counted.
	open(t, ctx, page+"&choropleth=staff", 1920, 1080)
	towns := 0
	for _, c := range tree.Root.Children {
		towns += len(c.Children)
	}
	city := fmt.Sprintf(`window.__zhili.people.totals && window.__zhili.people.totals.grids === %d && window.__zhili.people.totals.on_duty === %d && window.__zhili.people.marked.length >= %d`,
		tree.Len()-1-len(tree.Root.Children)-towns, want-1, towns-1)
	if err := waitFor(ctx, city, 30*time.Second); err != nil {
		t.Fatalf("city people layer: %v (%s, %d marked)", err, jsJSON(ctx, `window.__zhili.people.totals`), evalInt(t, ctx, `window.__zhili.people.marked.length`))
	}
	checkPeoplePanel(t, ctx)
	screenshot(t, ctx, "wall-people-city-zh.png")
	guard.verify(t)
}

// checkPeoplePanel fails when the people panel overflows its box or any of its texts is
// clipped, or its smallest text is too small to read from five metres.
func checkPeoplePanel(t *testing.T, ctx context.Context) {
	t.Helper()
	type result struct {
		Bad     []string `json:"bad"`
		MinFont float64  `json:"minFont"`
		InView  bool     `json:"inView"`
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(() => {
  const p = document.getElementById('people-panel');
  const r = p.getBoundingClientRect();
  const bad = [];
  let minFont = 99;
  for (const el of p.querySelectorAll('*')) {
    const b = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (el.children.length === 0 && el.textContent.trim()) minFont = Math.min(minFont, parseFloat(cs.fontSize));
    if ((el.children.length === 0 || cs.overflow === 'hidden') && el.textContent.trim() && cs.display !== 'inline' &&
        el.scrollWidth > el.clientWidth + 1) bad.push('clipped: ' + el.textContent);
    if (b.width && (b.right > r.right + 1 || b.bottom > r.bottom + 1 || b.left < r.left - 1)) bad.push('outside: ' + el.textContent);
  }
  const inView = r.right <= window.innerWidth && r.bottom <= window.innerHeight;
  return { bad, minFont, inView };
})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Bad) > 0 || !v.InView || v.MinFont < 15 {
		t.Errorf("people panel: %+v", v)
	}
}
