package evaluation

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"zhili/event"
	"zhili/roster"
)

// The fixture: four township party secretaries (post type 乡镇党委书记) A, B, C, D leading the
// party committees of regions RA..RD, and E of another post type (乡镇长) whose figures must not
// reach the secretaries' comparison.
const fixtureRoster = `units:
  - {code: gov.RE, zh: E镇政府, kind: township, region: RE}
party:
  - {code: party.RA, zh: A镇党委, level: township, region: RA}
  - {code: party.RB, zh: B镇党委, level: township, region: RB}
  - {code: party.RC, zh: C镇党委, level: township, region: RC}
  - {code: party.RD, zh: D镇党委, level: township, region: RD}
cadres:
  - {id: A, name: 甲, post: 党委书记, post_type: 乡镇党委书记, unit: party.RA, leader: true, from: 2025-01-01}
  - {id: B, name: 乙, post: 党委书记, post_type: 乡镇党委书记, unit: party.RB, leader: true, from: 2025-01-01}
  - {id: C, name: 丙, post: 党委书记, post_type: 乡镇党委书记, unit: party.RC, leader: true, from: 2025-01-01}
  - {id: D, name: 丁, post: 党委书记, post_type: 乡镇党委书记, unit: party.RD, leader: true, from: 2025-01-01}
  - {id: E, name: 戊, post: 镇长, post_type: 乡镇长, unit: gov.RE, leader: true, from: 2025-01-01}
`

func fixtureRosterOf(t *testing.T) *roster.Roster {
	t.Helper()
	r, rep := roster.Parse([]byte(fixtureRoster), "fixture.yaml", roster.Options{})
	if !rep.OK() {
		t.Fatalf("fixture roster: %v", rep.Problems)
	}
	return r
}

// fixtureConfig weighs two evaluator types and two dimensions equally (every other weight 0),
// so that the arithmetic stays by hand; the rest are the defaults.
func fixtureConfig(t *testing.T) Config {
	t.Helper()
	c, err := Config{
		TypeWeights:  map[string]float64{event.EvaluatorSuperior: 0.5, event.EvaluatorServed: 0.5},
		DimWeights:   map[string]float64{event.DimPerformance: 0.5, event.DimPurpose: 0.5},
		ListSize:     1,
		TrendPeriods: 3,
		// The rates as measured: the fixtures' figures are hand-worked on them. The peer
		// adjustment has its own (TestRateAdjust*).
		RateAdjust: AdjustNone,
	}.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type surveyLog struct {
	evs []event.Event
	n   int
	at  time.Time
}

// add records one score per rater of a cell, each later than the last.
func (s *surveyLog) add(period, subject, typ, dim, scale string, scores ...float64) {
	for i, sc := range scores {
		s.rater(period, subject, typ, dim, scale, fmt.Sprintf("%s-%s-%s-%d", subject, typ, dim, i), sc, "")
	}
}

func (s *surveyLog) rater(period, subject, typ, dim, scale, rater string, score float64, supersedes string) string {
	s.n++
	s.at = s.at.Add(time.Minute)
	id := fmt.Sprintf("sv-%d", s.n)
	s.evs = append(s.evs, event.Event{ID: id, Type: event.EvaluationSurvey, At: s.at, Supersedes: supersedes,
		Survey: &event.Survey{EvaluatorType: typ, Dimension: dim, Score: score, Scale: scale, Period: period, Subject: subject, Rater: rater}})
	return id
}

const (
	sup  = event.EvaluatorSuperior
	srv  = event.EvaluatorServed
	perf = event.DimPerformance
	purp = event.DimPurpose
)

// fixtureData: resolution (显绩) and the share without repeat complaints (潜绩) per region;
// A's response rate rests on 5 cases only (below min_sample 10: not used).
func fixtureData() *PeriodData {
	return &PeriodData{ByRegion: map[string]UnitData{
		"RA": {Resolution: Rate{18, 20}, Cases: 20, Repeats: 2, Response: Rate{5, 5}}, // 90 %, 90 %
		"RB": {Resolution: Rate{14, 20}, Cases: 20, Repeats: 1},                       // 70 %, 95 %
		"RC": {Resolution: Rate{16, 20}, Cases: 20, Repeats: 4},                       // 80 %, 80 %
		"RD": {Resolution: Rate{15, 20}, Cases: 20, Repeats: 0},                       // 75 %, 100 %
		"RE": {Resolution: Rate{20, 20}, Cases: 20, Repeats: 0},                       // another post type
	}}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.006 }

func val(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprintf("%.4f", *p)
}

func TestHandWorkedFixture(t *testing.T) {
	cfg := fixtureConfig(t)
	ro := fixtureRosterOf(t)
	var sv surveyLog
	sv.at = time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)

	// 2026-Q3. A: every cell with three raters; 1-5 scores normalise as (x − 1) ÷ 4 × 100.
	sv.add("2026-Q3", "A", sup, perf, "1-5", 5, 4, 3) // 100, 75, 50 → 75
	sv.add("2026-Q3", "A", sup, purp, "0-100", 80, 90, 70)
	// A's served·performance: rater p1 sends 10 and later 60 under another id (the last counts).
	sv.rater("2026-Q3", "A", srv, perf, "0-100", "p1", 10, "")
	sv.rater("2026-Q3", "A", srv, perf, "0-100", "p1", 60, "")
	sv.rater("2026-Q3", "A", srv, perf, "0-100", "p2", 70, "")
	sv.rater("2026-Q3", "A", srv, perf, "0-100", "p3", 80, "") // 60, 70, 80 → 70
	// A's served·purpose: p6's row was sent as served·performance 30, then corrected
	// (supersedes) to served·purpose 90; uncorrected, served·performance would be
	// (60 + 70 + 80 + 30) ÷ 4 = 60.
	sv.rater("2026-Q3", "A", srv, purp, "0-100", "p4", 90, "")
	sv.rater("2026-Q3", "A", srv, purp, "0-100", "p5", 90, "")
	wrong := sv.rater("2026-Q3", "A", srv, perf, "0-100", "p6", 30, "")
	sv.rater("2026-Q3", "A", srv, purp, "0-100", "p6", 90, wrong) // 90, 90, 90 → 90
	sv.add("2026-Q3", "B", sup, perf, "1-5", 4, 4, 4)             // 75
	sv.add("2026-Q3", "B", sup, purp, "0-100", 70, 70, 70)
	sv.add("2026-Q3", "B", srv, perf, "0-100", 50, 60, 70) // 60
	sv.add("2026-Q3", "B", srv, purp, "0-100", 60, 60, 60)
	sv.add("2026-Q3", "C", sup, perf, "1-5", 5, 5, 5) // 100
	sv.add("2026-Q3", "C", sup, purp, "0-100", 90, 100, 95)
	sv.add("2026-Q3", "C", srv, perf, "0-100", 80, 90) // two raters: 样本不足
	sv.add("2026-Q3", "C", srv, purp, "0-100", 80, 80, 80)
	sv.add("2026-Q3", "D", sup, perf, "0-100", 95, 95) // two raters only: D has no survey score
	// 2026-Q2: every cell of a subject scored the same by three raters.
	for subj, score := range map[string]float64{"A": 60, "B": 85, "C": 50} {
		for _, c := range [][2]string{{sup, perf}, {sup, purp}, {srv, perf}, {srv, purp}} {
			sv.add("2026-Q2", subj, c[0], c[1], "0-100", score, score, score)
		}
	}
	live := event.Live(sv.evs)

	q3, _ := ParsePeriod("2026-Q3")
	load := func(p Period) (Input, error) {
		in := Input{Period: p, Roster: ro, Surveys: live}
		if p.Name != "2026-Q1" { // no figures for Q1: no 实绩, no composite
			in.Data = fixtureData()
		}
		return in, nil
	}
	win, err := Window(cfg, q3, load)
	if err != nil {
		t.Fatal(err)
	}
	if len(win) != 3 || win[0].Period != "2026-Q1" || win[2].Period != "2026-Q3" {
		t.Fatalf("window %v", win)
	}
	res := win[2]
	A, B, C, D := res.Subjects["A"], res.Subjects["B"], res.Subjects["C"], res.Subjects["D"]
	// The party committees are subjects of their own, compared by level.
	if pc := res.Subjects["party.RA"]; pc == nil || pc.PeerGroup != "party:township" || pc.Kind != KindUnit {
		t.Errorf("party.RA: %+v", pc)
	}

	// Survey scores: the shown cells, weighted 0.5 × 0.5 = 0.25 each, renormalised.
	surveyA := (75.0 + 80 + 70 + 90) / 4 // 78.75
	surveyB := (75.0 + 70 + 60 + 60) / 4 // 66.25
	surveyC := (100.0 + 95 + 80) / 3     // 91.67: three cells of four, coverage 0.75
	for _, c := range []struct {
		s    *Score
		want float64
	}{{A, surveyA}, {B, surveyB}, {C, surveyC}} {
		if c.s.Survey.Score == nil || !near(*c.s.Survey.Score, c.want) {
			t.Errorf("%s survey = %s, want %.4f", c.s.Subject, val(c.s.Survey.Score), c.want)
		}
	}
	if C.Survey.Coverage != 0.75 {
		t.Errorf("C coverage = %v, want 0.75", C.Survey.Coverage)
	}
	// Rater anonymity: a cell below three raters shows no mean.
	for _, c := range C.Survey.Cells {
		if c.EvaluatorType == srv && c.Dimension == perf && (c.Mean != nil || c.Sample != SampleInsufficient || c.Raters != 2) {
			t.Errorf("C served·performance = %+v, want 2 raters, no mean", c)
		}
	}
	if D.Survey.Score != nil || D.Composite != nil || D.Rank != nil || strings.Join(D.Missing, ",") != "survey" {
		t.Errorf("D (two raters) = survey %s composite %s rank %v missing %v", val(D.Survey.Score), val(D.Composite), D.Rank, D.Missing)
	}

	// 实绩 within the secretaries (A-D; E is another post type): resolution 90 70 80 75 → min 70,
	// max 90; without repeats 90 95 80 100 → min 80, max 100. Normalised (x − min) ÷ (max − min) × 100.
	visA, visB, visC := (90.0-70)/20*100, (70.0-70)/20*100, (80.0-70)/20*100 // 100, 0, 50
	latA, latB, latC := (90.0-80)/20*100, (95.0-80)/20*100, (80.0-80)/20*100 // 50, 75, 0
	dataA, dataB, dataC := 0.5*visA+0.5*latA, 0.5*visB+0.5*latB, 0.5*visC+0.5*latC
	for _, c := range []struct {
		s             *Score
		vis, lat, dat float64
	}{{A, visA, latA, dataA}, {B, visB, latB, dataB}, {C, visC, latC, dataC}} {
		d := c.s.Data
		if d.Visible == nil || d.Latent == nil || d.Score == nil || !near(*d.Visible, c.vis) || !near(*d.Latent, c.lat) || !near(*d.Score, c.dat) {
			t.Errorf("%s 显绩 %s 潜绩 %s 实绩 %s, want %.2f %.2f %.2f", c.s.Subject, val(d.Visible), val(d.Latent), val(d.Score), c.vis, c.lat, c.dat)
		}
	}
	for _, is := range A.Data.Indicators {
		if is.Key == "response" && (is.Sample != SampleInsufficient || is.Normalized != nil || is.Den != 5) {
			t.Errorf("A's response rate on 5 cases = %+v, want insufficient", is)
		}
	}

	// Composite = 0.6 × survey + 0.4 × 实绩.
	compA, compB, compC := 0.6*surveyA+0.4*dataA, 0.6*surveyB+0.4*dataB, 0.6*surveyC+0.4*dataC // 77.25 54.75 65
	for _, c := range []struct {
		s    *Score
		want float64
	}{{A, compA}, {B, compB}, {C, compC}} {
		if c.s.Composite == nil || !near(*c.s.Composite, c.want) {
			t.Errorf("%s composite = %s, want %.2f", c.s.Subject, val(c.s.Composite), c.want)
			continue
		}
		// No black box: the components' contributions sum to the composite, their weights to 1,
		// their shares to 1.
		var w, contrib, share float64
		for _, p := range c.s.Parts {
			w, contrib, share = w+p.Weight, contrib+p.Contribution, share+p.Share
		}
		if !near(w, 1) || !near(contrib, *c.s.Composite) || !near(share, 1) {
			t.Errorf("%s components: weights %.4f contributions %.4f shares %.4f", c.s.Subject, w, contrib, share)
		}
	}
	// A's parts: four cells of 0.6 × 0.25 = 0.15 each; two indicators of 0.4 × 0.5 = 0.2 each.
	if len(A.Parts) != 6 || !near(A.Parts[0].Weight, 0.15) || !near(A.Parts[4].Weight, 0.2) || A.Parts[4].Indicator != "resolution" {
		t.Errorf("A's components %+v", A.Parts)
	}

	// 横向比: A > C > B; mid-rank percentile (below + ½ × equal) ÷ 3 × 100.
	for _, c := range []struct {
		s    *Score
		rank int
		pct  float64
	}{{A, 1, (2 + 0.5) / 3 * 100}, {C, 2, (1 + 0.5) / 3 * 100}, {B, 3, (0 + 0.5) / 3 * 100}} {
		if c.s.Rank == nil || *c.s.Rank != c.rank || c.s.Percentile == nil || !near(*c.s.Percentile, c.pct) || c.s.Peers != 3 {
			t.Errorf("%s rank %v percentile %s peers %d, want %d %.2f 3", c.s.Subject, c.s.Rank, val(c.s.Percentile), c.s.Peers, c.rank, c.pct)
		}
	}

	// 红黑榜 (list size 1 = min(1, ⌊3 ÷ 2⌋)): red A, black B, D unranked.
	rk := Rank(cfg, res.Period, "乡镇党委书记", res.Groups["乡镇党委书记"], nil)
	if got := names(rk.Red) + "|" + names(rk.Black) + "|" + names(rk.Unranked) + "|" + names(rk.Ranked); got != "A|B|D|A C B" {
		t.Errorf("Q3 red|black|unranked|ranked = %s, want A|B|D|A C B", got)
	}

	// Q2: survey A 60, B 85, C 50 with the same figures: A = 0.6 × 60 + 0.4 × 75 = 66 and
	// B = 0.6 × 85 + 0.4 × 37.5 = 66 tie; C = 0.6 × 50 + 0.4 × 25 = 40.
	q2 := win[1]
	q2A, q2B, q2C := 0.6*60+0.4*dataA, 0.6*85+0.4*dataB, 0.6*50+0.4*dataC
	if q2A != q2B {
		t.Fatalf("fixture: Q2's A %.2f and B %.2f should tie", q2A, q2B)
	}
	for _, c := range []struct {
		id   string
		comp float64
		rank int
		pct  float64
	}{{"A", q2A, 1, (1 + 0.5*2) / 3 * 100}, {"B", q2B, 1, (1 + 0.5*2) / 3 * 100}, {"C", q2C, 3, (0 + 0.5) / 3 * 100}} {
		s := q2.Subjects[c.id]
		if s.Composite == nil || !near(*s.Composite, c.comp) || s.Rank == nil || *s.Rank != c.rank || !near(*s.Percentile, c.pct) {
			t.Errorf("Q2 %s composite %s rank %v percentile %s, want %.2f %d %.2f", c.id, val(s.Composite), s.Rank, val(s.Percentile), c.comp, c.rank, c.pct)
		}
	}
	// Tied at the top boundary: both red; C black.
	rk2 := Rank(cfg, q2.Period, "乡镇党委书记", q2.Groups["乡镇党委书记"], nil)
	if got := names(rk2.Red) + "|" + names(rk2.Black); got != "A B|C" {
		t.Errorf("Q2 red|black = %s, want A B|C", got)
	}

	// 纵向比 of A over Q1 (no figures), Q2, Q3: 一时 77.25; 一贯 mean of 66 and 77.25; volatility
	// their population standard deviation; slope per period (indices 1, 2).
	tr := TrendOf(cfg, "A", win)
	mean := (q2A + compA) / 2
	sd := math.Sqrt(((q2A-mean)*(q2A-mean) + (compA-mean)*(compA-mean)) / 2)
	slope := (compA - q2A) / (2 - 1)
	if tr.Points[0].Composite != nil || tr.Periods != 2 || !near(*tr.Latest, compA) || !near(*tr.Mean, mean) ||
		!near(*tr.Volatility, sd) || !near(*tr.Slope, slope) || *tr.Steady != (sd <= 5) {
		t.Errorf("A's trend %+v: latest %s mean %s volatility %s slope %s; want %.2f %.3f %.3f %.2f",
			tr, val(tr.Latest), val(tr.Mean), val(tr.Volatility), val(tr.Slope), compA, mean, sd, slope)
	}
	// D has no composite anywhere: no trend.
	if trD := TrendOf(cfg, "D", win); trD.Sample != SampleInsufficient || trD.Mean != nil {
		t.Errorf("D's trend %+v", trD)
	}
}

func names(es []Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Subject)
	}
	return strings.Join(out, " ")
}

// A peer group below min_peers ranks nobody and lists nobody.
func TestSampleGuardPeers(t *testing.T) {
	cfg := fixtureConfig(t)
	ro := fixtureRosterOf(t)
	var sv surveyLog
	sv.at = time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)
	for _, subj := range []string{"A", "B"} {
		for _, c := range [][2]string{{sup, perf}, {sup, purp}, {srv, perf}, {srv, purp}} {
			sv.add("2026-Q3", subj, c[0], c[1], "0-100", 70, 80, 90)
		}
	}
	q3, _ := ParsePeriod("2026-Q3")
	res := Evaluate(cfg, Input{Period: q3, Roster: ro, Surveys: event.Live(sv.evs), Data: fixtureData()})
	for _, id := range []string{"A", "B"} {
		if s := res.Subjects[id]; s.Composite == nil || s.Rank != nil || s.Percentile != nil || s.Peers != 2 {
			t.Errorf("%s: composite %s rank %v percentile %s peers %d; want a composite, no rank among 2", id, val(s.Composite), s.Rank, val(s.Percentile), s.Peers)
		}
	}
	rk := Rank(cfg, res.Period, "乡镇党委书记", res.Groups["乡镇党委书记"], nil)
	if rk.Sample != SampleInsufficient || len(rk.Red)+len(rk.Black) != 0 || len(rk.Unranked) != 4 {
		t.Errorf("ranking of two: %+v", rk)
	}
}

func TestConfigAndPeriods(t *testing.T) {
	c, err := Config{}.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, t := range event.EvaluatorTypes {
		for _, d := range event.Dimensions {
			sum += c.TypeWeights[t] * c.DimWeights[d]
		}
	}
	if !near(sum, 1) || c.MinRaters != 3 || c.SurveyWeight != 0.6 || c.DataWeight != 0.4 {
		t.Errorf("defaults: cell weights sum %.3f, %+v", sum, c)
	}
	if _, err := (Config{TypeWeights: map[string]float64{"boss": 1}}).Resolved(); err == nil {
		t.Error("an unknown evaluator type in the weights is accepted")
	}
	p, err := ParsePeriod("2026-Q1")
	if err != nil || p.Back(1).Name != "2025-Q4" {
		t.Errorf("2026-Q1 back 1 = %v %v", p.Back(1), err)
	}
	m, _ := ParsePeriod("2026-01")
	from, to := m.Bounds(time.UTC)
	if m.Back(1).Name != "2025-12" || from.Format(time.DateOnly) != "2026-01-01" || to.Format(time.DateOnly) != "2026-02-01" {
		t.Errorf("2026-01: back %s, bounds %v %v", m.Back(1).Name, from, to)
	}
	if _, err := ParsePeriod("2026-Q0"); err == nil {
		t.Error("2026-Q0 accepted")
	}
}
