package evaluation

import (
	"cmp"
	"math"
	"slices"

	"zhili/event"
	"zhili/roster"
)

// Subject kinds.
const (
	KindCadre = "cadre"
	KindUnit  = "unit"
)

// UnitPeerPrefix starts the peer group of units: "unit:" + the unit's kind; PartyPeerPrefix
// that of party organisations: "party:" + the level.
const (
	UnitPeerPrefix  = "unit:"
	PartyPeerPrefix = "party:"
)

// Cell is one evaluator type × dimension of the survey: the mean of its raters' scores on
// 0-100, shown only with enough raters. Raters are never named.
type Cell struct {
	EvaluatorType string   `json:"evaluator_type"`
	Dimension     string   `json:"dimension"`
	Zh            string   `json:"zh"`
	En            string   `json:"en"`
	Raters        int      `json:"raters"`
	Mean          *float64 `json:"mean"`
	Sample        string   `json:"sample"`
	Weight        float64  `json:"weight"` // nominal: type weight × dimension weight
}

// TypeMean is one evaluator type's mean over its shown cells (dimension-weighted).
type TypeMean struct {
	EvaluatorType string   `json:"evaluator_type"`
	Zh            string   `json:"zh"`
	En            string   `json:"en"`
	Raters        int      `json:"raters"` // distinct raters of this type
	Mean          *float64 `json:"mean"`
	Sample        string   `json:"sample"`
}

// SurveyPart is the survey's side of a subject (三评).
type SurveyPart struct {
	Cells    []Cell     `json:"cells"`
	Types    []TypeMean `json:"types"`
	Score    *float64   `json:"score"`
	Coverage float64    `json:"coverage"` // share of the survey weight held by shown cells
	Sample   string     `json:"sample"`
}

// IndicatorScore is one figure of 实绩: its value (a percentage, higher is better), the
// denominator it rests on, and its place among the peers (0-100).
type IndicatorScore struct {
	Key   string   `json:"key"`
	Zh    string   `json:"zh"`
	En    string   `json:"en"`
	Group string   `json:"group"` // visible (显绩) or latent (潜绩)
	Value *float64 `json:"value"`
	Den   int64    `json:"den"`
	// With RateAdjust peer, once compared: Adjusted is the value pulled toward PeerRate, the
	// peer group's pooled rate (Σ good ÷ Σ cases over the peers compared), by Credibility, the
	// share of Adjusted that is the subject's own (den ÷ (den + m)); Normalized is Adjusted's
	// place among the peers. Absent otherwise.
	Adjusted    *float64 `json:"adjusted,omitempty"`
	Credibility *float64 `json:"credibility,omitempty"`
	PeerRate    *float64 `json:"peer_rate,omitempty"`
	Normalized  *float64 `json:"normalized"`
	Sample      string   `json:"sample"`
	good        float64  // the good cases behind Value (Value = good ÷ Den × 100)
}

// DataPart is 实绩 from Zhili's figures of the subject's unit.
type DataPart struct {
	Unit       string           `json:"unit"`
	Indicators []IndicatorScore `json:"indicators"`
	Visible    *float64         `json:"visible"` // 显绩
	Latent     *float64         `json:"latent"`  // 潜绩
	Score      *float64         `json:"score"`   // 实绩
	Sample     string           `json:"sample"`
}

// Component is one part of the composite: its value, its weight in the composite (weights of
// the parts present sum to 1), its contribution (weight × value; contributions sum to the
// composite) and its share of the composite.
type Component struct {
	Kind          string  `json:"kind"` // survey or data
	EvaluatorType string  `json:"evaluator_type,omitempty"`
	Dimension     string  `json:"dimension,omitempty"`
	Indicator     string  `json:"indicator,omitempty"`
	Zh            string  `json:"zh"`
	En            string  `json:"en"`
	Value         float64 `json:"value"`
	Weight        float64 `json:"weight"`
	Contribution  float64 `json:"contribution"`
	Share         float64 `json:"share"`
}

// Score is one subject's evaluation in one period.
type Score struct {
	Subject   string      `json:"subject"`
	Kind      string      `json:"kind"` // cadre or unit
	Name      string      `json:"name"`
	Post      string      `json:"post,omitempty"`
	PeerGroup string      `json:"peer_group"` // the post type (cadres), unit:<kind> (units), party:<level>
	Leader    bool        `json:"leader"`
	Unit      string      `json:"unit"`
	UnitName  string      `json:"unit_name"`
	Dept      string      `json:"dept,omitempty"`   // a department unit's catalogue code: its figures
	Region    string      `json:"region,omitempty"` // the region the unit serves ("" none): its figures otherwise
	Survey    SurveyPart  `json:"survey"`
	Data      DataPart    `json:"data"`
	Composite *float64    `json:"composite"`
	Sample    string      `json:"sample"`
	Missing   []string    `json:"missing,omitempty"` // why no composite: survey, data
	Parts     []Component `json:"components"`
	// 横向比: the standing among the peer group's subjects with a composite.
	Rank       *int     `json:"rank"`
	Percentile *float64 `json:"percentile"`
	Peers      int      `json:"peers"`
}

// Result is one period's evaluation of every subject.
type Result struct {
	Period   string
	Subjects map[string]*Score
	Groups   map[string][]*Score // peer group → its subjects
	Cover    *Cover              // the data's cover of the period (nil: whole, or no data)
}

// Input is what one period's evaluation reads.
type Input struct {
	Period  Period
	Roster  *roster.Roster
	Surveys []event.Event // survey records in force (event.Live); other periods are ignored
	Data    *PeriodData   // nil: no figures
	// Keep, when set, keeps only the subjects it is true for (a tenant's): the others are
	// neither evaluated nor peers.
	Keep func(*Score) bool
}

func r2(x float64) float64  { return math.Round(x*100) / 100 }
func r4(x float64) float64  { return math.Round(x*1e4) / 1e4 }
func fp(x float64) *float64 { return &x }

// Evaluate computes one period: every cadre whose term overlaps the period and every unit.
func Evaluate(cfg Config, in Input) *Result {
	res := &Result{Period: in.Period.Name, Subjects: map[string]*Score{}, Groups: map[string][]*Score{}}
	if in.Data != nil {
		res.Cover = in.Data.Cover
	}
	ro := in.Roster
	if ro == nil {
		ro = roster.Empty()
	}
	from, to := in.Period.days()
	// Cadres: the term overlapping the period that began last.
	terms := map[string]roster.Cadre{}
	for _, c := range ro.Cadres {
		if c.From >= to || c.To != "" && c.To <= from {
			continue
		}
		if t, ok := terms[c.ID]; !ok || c.From > t.From {
			terms[c.ID] = c
		}
	}
	deptOf := func(code string) string {
		if u, ok := ro.Unit(code); ok && u.Kind == "department" {
			return u.Dept
		}
		return ""
	}
	add := func(s *Score) {
		if in.Keep == nil || in.Keep(s) {
			res.Subjects[s.Subject] = s
		}
	}
	for id, c := range terms {
		add(&Score{Subject: id, Kind: KindCadre, Name: c.Name, Post: c.Post, PeerGroup: c.PostType,
			Leader: c.Leader, Unit: c.Unit, UnitName: ro.NameOf(c.Unit), Dept: deptOf(c.Unit), Region: ro.RegionOf(c.Unit)})
	}
	for _, u := range ro.Units {
		if _, taken := terms[u.Code]; taken {
			continue
		}
		add(&Score{Subject: u.Code, Kind: KindUnit, Name: u.Zh, PeerGroup: UnitPeerPrefix + u.Kind,
			Leader: true, Unit: u.Code, UnitName: u.Zh, Dept: deptOf(u.Code), Region: ro.RegionOf(u.Code)})
	}
	for _, o := range ro.Party {
		if _, taken := terms[o.Code]; taken {
			continue
		}
		add(&Score{Subject: o.Code, Kind: KindUnit, Name: o.Zh, PeerGroup: PartyPeerPrefix + o.Level,
			Leader: true, Unit: o.Code, UnitName: o.Zh, Region: o.Region})
	}
	surveys(cfg, in, res)
	for _, s := range res.Subjects {
		res.Groups[s.PeerGroup] = append(res.Groups[s.PeerGroup], s)
	}
	for g, ss := range res.Groups {
		slices.SortFunc(ss, func(a, b *Score) int { return cmp.Compare(a.Subject, b.Subject) })
		data(cfg, in, ss)
		for _, s := range ss {
			compose(cfg, s)
		}
		standing(cfg, ss)
		for _, s := range ss {
			tidy(s)
		}
		res.Groups[g] = ss
	}
	return res
}

type cellKey struct{ subject, typ, dim string }

// surveys fills each subject's survey part: the last score of each rater per cell counts.
func surveys(cfg Config, in Input, res *Result) {
	last := map[cellKey]map[string]float64{}  // cell → rater → normalised score
	raters := map[[2]string]map[string]bool{} // subject, type → raters
	for i := range in.Surveys {
		e := &in.Surveys[i]
		sv := e.Survey
		if e.Type != event.EvaluationSurvey || sv == nil || sv.Period != in.Period.Name || res.Subjects[sv.Subject] == nil {
			continue
		}
		k := cellKey{sv.Subject, sv.EvaluatorType, sv.Dimension}
		if last[k] == nil {
			last[k] = map[string]float64{}
		}
		last[k][sv.Rater] = sv.Normalized() // records come in (At, Offset) order: the last wins
		tk := [2]string{sv.Subject, sv.EvaluatorType}
		if raters[tk] == nil {
			raters[tk] = map[string]bool{}
		}
		raters[tk][sv.Rater] = true
	}
	total := 0.0
	for _, t := range event.EvaluatorTypes {
		for _, d := range event.Dimensions {
			total += cfg.TypeWeights[t] * cfg.DimWeights[d]
		}
	}
	for id, s := range res.Subjects {
		sp := SurveyPart{Sample: SampleInsufficient}
		var wsum, vsum float64
		for _, t := range event.EvaluatorTypes {
			tm := TypeMean{EvaluatorType: t, Zh: TypeNames[t][0], En: TypeNames[t][1], Raters: len(raters[[2]string{id, t}]), Sample: SampleInsufficient}
			var tw, tv float64
			for _, d := range event.Dimensions {
				scores := last[cellKey{id, t, d}]
				c := Cell{EvaluatorType: t, Dimension: d, Zh: TypeNames[t][0] + "·" + DimNames[d][0],
					En: TypeNames[t][1] + " · " + DimNames[d][1], Raters: len(scores), Sample: SampleInsufficient,
					Weight: cfg.TypeWeights[t] * cfg.DimWeights[d]}
				if len(scores) >= cfg.MinRaters {
					sum := 0.0
					for _, v := range scores {
						sum += v
					}
					m := sum / float64(len(scores))
					c.Mean, c.Sample = fp(m), SampleOK
					wsum += c.Weight
					vsum += c.Weight * m
					tw += cfg.DimWeights[d]
					tv += cfg.DimWeights[d] * m
				}
				sp.Cells = append(sp.Cells, c)
			}
			if tw > 0 {
				tm.Mean, tm.Sample = fp(tv/tw), SampleOK
			}
			sp.Types = append(sp.Types, tm)
		}
		if total > 0 {
			sp.Coverage = wsum / total
		}
		if wsum > 0 && sp.Coverage >= cfg.MinCoverage-1e-9 {
			sp.Score, sp.Sample = fp(vsum/wsum), SampleOK
		}
		s.Survey = sp
	}
}

// data fills 实绩 of one peer group: each indicator, adjusted toward the group's pooled rate
// (RateAdjust peer), normalised among the peers that have it (min-max to 0-100; all equal:
// 50), when at least MinPeers have it.
func data(cfg Config, in Input, ss []*Score) {
	for _, s := range ss {
		s.Data = DataPart{Unit: s.Unit, Sample: SampleInsufficient}
		var d *UnitData
		if in.Data != nil {
			if s.Dept != "" {
				if v, ok := in.Data.ByDept[s.Dept]; ok {
					d = &v
				}
			} else if s.Region != "" {
				if v, ok := in.Data.ByRegion[s.Region]; ok {
					d = &v
				}
			}
		}
		for _, ind := range indicators {
			is := IndicatorScore{Key: ind.Key, Zh: ind.Zh, En: ind.En, Group: ind.Group, Sample: SampleInsufficient}
			if d != nil {
				good, den := ind.of(d)
				is.Den, is.good = den, max(good, 0)
				if den > 0 {
					is.Value = fp(is.good / float64(den) * 100)
				}
				if den >= cfg.MinSample {
					is.Sample = SampleOK
				}
			}
			s.Data.Indicators = append(s.Data.Indicators, is)
		}
	}
	for i := range indicators {
		var cmp []*IndicatorScore
		for _, s := range ss {
			if is := &s.Data.Indicators[i]; is.Sample == SampleOK {
				cmp = append(cmp, is)
			}
		}
		if len(cmp) < cfg.MinPeers {
			for _, is := range cmp {
				is.Sample = SampleInsufficient // too few peers to compare with
			}
			continue
		}
		x := make([]float64, len(cmp)) // what is normalised: the value, or the adjusted value
		for k, is := range cmp {
			x[k] = *is.Value
		}
		if cfg.RateAdjust == AdjustPeer {
			good, den := make([]float64, len(cmp)), make([]float64, len(cmp))
			for k, is := range cmp {
				good[k], den[k] = is.good, float64(is.Den)
			}
			pr := priorOf(good, den)
			for k, is := range cmp {
				r, c := pr.adjust(good[k], den[k])
				x[k] = r * 100
				is.Adjusted, is.Credibility, is.PeerRate = fp(x[k]), fp(c), fp(pr.Rate*100)
			}
		}
		lo, hi := slices.Min(x), slices.Max(x)
		for k, is := range cmp {
			if hi-lo > 1e-9 {
				is.Normalized = fp((x[k] - lo) / (hi - lo) * 100)
			} else {
				is.Normalized = fp(50)
			}
		}
	}
	for _, s := range ss {
		var vis, lat []float64
		for _, is := range s.Data.Indicators {
			if is.Normalized == nil {
				continue
			}
			if is.Group == Visible {
				vis = append(vis, *is.Normalized)
			} else {
				lat = append(lat, *is.Normalized)
			}
		}
		var w, v float64
		if len(vis) > 0 {
			s.Data.Visible = fp(mean(vis))
			w += cfg.VisibleWeight
			v += cfg.VisibleWeight * *s.Data.Visible
		}
		if len(lat) > 0 {
			s.Data.Latent = fp(mean(lat))
			w += cfg.LatentWeight
			v += cfg.LatentWeight * *s.Data.Latent
		}
		if w > 0 {
			s.Data.Score, s.Data.Sample = fp(v/w), SampleOK
		}
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// compose makes the composite and its components: survey and 实绩 weighted by SurveyWeight
// and DataWeight; within them, cells by their weights over the shown cells, indicators equally
// within 显绩 and 潜绩, those by VisibleWeight and LatentWeight over the groups present.
func compose(cfg Config, s *Score) {
	s.Sample = SampleInsufficient
	s.Parts = []Component{}
	if s.Survey.Score == nil && cfg.SurveyWeight > 0 {
		s.Missing = append(s.Missing, "survey")
	}
	if s.Data.Score == nil && cfg.DataWeight > 0 {
		s.Missing = append(s.Missing, "data")
	}
	if len(s.Missing) > 0 {
		return
	}
	sw := cfg.SurveyWeight / (cfg.SurveyWeight + cfg.DataWeight)
	dw := 1 - sw
	var parts []Component
	var shown float64
	for _, c := range s.Survey.Cells {
		if c.Mean != nil {
			shown += c.Weight
		}
	}
	for _, c := range s.Survey.Cells {
		if c.Mean != nil && sw > 0 {
			parts = append(parts, Component{Kind: "survey", EvaluatorType: c.EvaluatorType, Dimension: c.Dimension,
				Zh: c.Zh, En: c.En, Value: *c.Mean, Weight: sw * c.Weight / shown})
		}
	}
	groupW := map[string]float64{}
	if s.Data.Visible != nil {
		groupW[Visible] = cfg.VisibleWeight
	}
	if s.Data.Latent != nil {
		groupW[Latent] = cfg.LatentWeight
	}
	gsum := groupW[Visible] + groupW[Latent]
	counts := map[string]int{}
	for _, is := range s.Data.Indicators {
		if is.Normalized != nil {
			counts[is.Group]++
		}
	}
	for _, is := range s.Data.Indicators {
		if is.Normalized != nil && dw > 0 && gsum > 0 {
			parts = append(parts, Component{Kind: "data", Indicator: is.Key, Zh: is.Zh, En: is.En,
				Value: *is.Normalized, Weight: dw * groupW[is.Group] / gsum / float64(counts[is.Group])})
		}
	}
	total := 0.0
	for i := range parts {
		parts[i].Contribution = parts[i].Weight * parts[i].Value
		total += parts[i].Contribution
	}
	for i := range parts {
		if total > 0 {
			parts[i].Share = parts[i].Contribution / total
		}
	}
	s.Composite, s.Sample, s.Parts = fp(r2(total)), SampleOK, parts
}

// standing ranks a peer group's subjects with a composite (横向比): rank 1 is the highest,
// equal composites share the better rank; percentile is mid-rank, (below + ½ × equal) ÷ n × 100,
// equal counting the subject itself. A group with fewer than MinPeers such subjects is not
// ranked.
func standing(cfg Config, ss []*Score) {
	var ranked []*Score
	for _, s := range ss {
		if s.Composite != nil {
			ranked = append(ranked, s)
		}
	}
	for _, s := range ss {
		s.Peers = len(ranked)
	}
	if len(ranked) < cfg.MinPeers {
		return
	}
	n := float64(len(ranked))
	for _, s := range ranked {
		above, below, equal := 0, 0, 0
		for _, o := range ranked {
			switch {
			case *o.Composite > *s.Composite:
				above++
			case *o.Composite < *s.Composite:
				below++
			default:
				equal++
			}
		}
		rk := above + 1
		s.Rank = &rk
		s.Percentile = fp(r2((float64(below) + 0.5*float64(equal)) / n * 100))
	}
}

// tidy rounds what a reply shows, once everything is computed: scores to 2 decimals, weights
// and shares to 4 (the composite and the standing are computed from the unrounded values).
func tidy(s *Score) {
	p2 := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		return fp(r2(*p))
	}
	for i := range s.Survey.Cells {
		c := &s.Survey.Cells[i]
		c.Mean, c.Weight = p2(c.Mean), r4(c.Weight)
	}
	for i := range s.Survey.Types {
		s.Survey.Types[i].Mean = p2(s.Survey.Types[i].Mean)
	}
	s.Survey.Score, s.Survey.Coverage = p2(s.Survey.Score), r4(s.Survey.Coverage)
	for i := range s.Data.Indicators {
		is := &s.Data.Indicators[i]
		is.Value, is.Normalized, is.Adjusted, is.PeerRate = p2(is.Value), p2(is.Normalized), p2(is.Adjusted), p2(is.PeerRate)
		if is.Credibility != nil {
			is.Credibility = fp(r4(*is.Credibility))
		}
	}
	s.Data.Visible, s.Data.Latent, s.Data.Score = p2(s.Data.Visible), p2(s.Data.Latent), p2(s.Data.Score)
	for i := range s.Parts {
		c := &s.Parts[i]
		c.Value, c.Weight, c.Contribution, c.Share = r2(c.Value), r4(c.Weight), r4(c.Contribution), r4(c.Share)
	}
}
