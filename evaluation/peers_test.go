package evaluation

import (
	"testing"

	"zhili/event"
)

// The peers beside a portrait: a cell's median over the subjects that show it, 样本不足 below
// min_peers of them; the composites lowest first with their median and quartiles; the groups
// listed cadre post types first.
func TestEvaluationPeersOf(t *testing.T) {
	cfg, err := Config{}.Resolved() // min_peers 3
	if err != nil {
		t.Fatal(err)
	}
	score := func(id string, comp *float64, shown map[int]float64) *Score {
		s := &Score{Subject: id, Composite: comp}
		for ti, typ := range event.EvaluatorTypes {
			s.Survey.Types = append(s.Survey.Types, TypeMean{EvaluatorType: typ})
			for di, d := range event.Dimensions {
				c := Cell{EvaluatorType: typ, Dimension: d}
				if v, ok := shown[ti*len(event.Dimensions)+di]; ok {
					c.Mean = fp(v)
					s.Survey.Types[ti].Mean = fp(v)
				}
				s.Survey.Cells = append(s.Survey.Cells, c)
			}
		}
		return s
	}
	// Cell 0 (superior · performance) shown by all four; cell 24 (served · purpose) by two.
	ss := []*Score{
		score("a", fp(90), map[int]float64{0: 80, 24: 50}),
		score("b", fp(60), map[int]float64{0: 60, 24: 70}),
		score("c", fp(80), map[int]float64{0: 70}),
		score("d", fp(70), map[int]float64{0: 90}),
		score("e", nil, nil),
	}
	p := PeersOf(cfg, "乡镇党委书记", ss)
	if p.Subjects != 5 || len(p.Cells) != 25 || len(p.Types) != 5 {
		t.Fatalf("peers %+v", p)
	}
	if c := p.Cells[0]; c.Sample != SampleOK || c.Subjects != 4 || val(c.Median) != "75.0000" {
		t.Errorf("superior · performance: %+v (%s), want the median 75 of 4", c, val(c.Median))
	}
	if c := p.Cells[24]; c.Sample != SampleInsufficient || c.Median != nil || c.Subjects != 2 {
		t.Errorf("served · purpose shown by 2 < min_peers: %+v", c)
	}
	if c := p.Cells[1]; c.Sample != SampleInsufficient || c.Median != nil || c.Subjects != 0 {
		t.Errorf("a cell nobody shows: %+v", c)
	}
	if len(p.Composites) != 4 || p.Composites[0] != 60 || p.Composites[3] != 90 || p.Sample != SampleOK ||
		val(p.CompositeMedian) != "75.0000" || val(p.CompositeQ1) != "67.5000" || val(p.CompositeQ3) != "82.5000" {
		t.Errorf("composites %v median %s q1 %s q3 %s", p.Composites, val(p.CompositeMedian), val(p.CompositeQ1), val(p.CompositeQ3))
	}
	// The radar: a dimension's score over the types showing it, the peers' median beside.
	if d := DimensionsOf(cfg, ss[0]); len(d) != 5 || val(d[0].Score) != "80.0000" || d[0].Types != 1 || val(d[4].Score) != "50.0000" ||
		d[1].Score != nil || d[1].Sample != SampleInsufficient {
		t.Errorf("dimensions of a: %+v", d)
	}
	if d := p.Dimensions; len(d) != 5 || val(d[0].Median) != "75.0000" || d[0].Subjects != 4 || d[4].Median != nil || d[4].Subjects != 2 {
		t.Errorf("peer dimensions %+v", d)
	}
	if q := PeersOf(cfg, "g", ss[:2]); q.Sample != SampleInsufficient || q.CompositeMedian != nil || len(q.Composites) != 2 {
		t.Errorf("two peers: %+v", q)
	}

	res := &Result{Groups: map[string][]*Score{"乡镇长": ss[:1], PartyPeerPrefix + "township": ss, UnitPeerPrefix + "department": ss[:2], "局长": ss[:3]}}
	gs := GroupsOf(res)
	want := []Group{{"乡镇长", KindCadre, 1}, {"局长", KindCadre, 3}, {UnitPeerPrefix + "department", KindUnit, 2}, {PartyPeerPrefix + "township", "party", 5}}
	if len(gs) != len(want) {
		t.Fatalf("groups %+v", gs)
	}
	for i := range want {
		if gs[i] != want[i] {
			t.Errorf("group %d: %+v, want %+v", i, gs[i], want[i])
		}
	}
}
