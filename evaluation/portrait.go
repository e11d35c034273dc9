package evaluation

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"zhili/event"
)

// TrendPoint is one period of 纵向比.
type TrendPoint struct {
	Period    string   `json:"period"`
	Composite *float64 `json:"composite"`
	Survey    *float64 `json:"survey"`
	Data      *float64 `json:"data"`
	// DataMissingDays: the period's days before the history of cases begins (实绩 rests on
	// the rest; absent: none).
	DataMissingDays float64 `json:"data_missing_days,omitempty"`
}

// Trend is 纵向比: the subject's composites over the last periods, the latest (一时) beside
// their mean (一贯), their volatility (population standard deviation) and slope (least
// squares, points per period), over the periods that have a composite; mean, volatility and
// slope need at least two of them.
type Trend struct {
	Points     []TrendPoint `json:"points"` // oldest first, the period asked last
	Latest     *float64     `json:"latest"` // 一时
	Mean       *float64     `json:"mean"`   // 一贯
	Volatility *float64     `json:"volatility"`
	Slope      *float64     `json:"slope"`
	Steady     *bool        `json:"steady"` // volatility ≤ steady_stdev
	Periods    int          `json:"periods_with_composite"`
	Sample     string       `json:"sample"`
}

// TrendOf builds the trend of subject from results, oldest first (the last is the period
// asked).
func TrendOf(cfg Config, subject string, results []*Result) Trend {
	tr := Trend{Points: []TrendPoint{}, Sample: SampleInsufficient}
	var xs, ys []float64
	for i, r := range results {
		p := TrendPoint{Period: r.Period}
		if r.Cover != nil {
			p.DataMissingDays = r.Cover.MissingDays
		}
		if s := r.Subjects[subject]; s != nil {
			p.Composite, p.Survey, p.Data = s.Composite, s.Survey.Score, s.Data.Score
			if s.Composite != nil {
				xs, ys = append(xs, float64(i)), append(ys, *s.Composite)
			}
		}
		tr.Points = append(tr.Points, p)
	}
	if n := len(tr.Points); n > 0 {
		tr.Latest = tr.Points[n-1].Composite
	}
	tr.Periods = len(ys)
	if len(ys) < 2 {
		return tr
	}
	m := mean(ys)
	mx := mean(xs)
	var vv, sxy, sxx float64
	for i := range ys {
		vv += (ys[i] - m) * (ys[i] - m)
		sxy += (xs[i] - mx) * (ys[i] - m)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	sd := math.Sqrt(vv / float64(len(ys)))
	steady := sd <= cfg.SteadyStdev
	tr.Mean, tr.Volatility, tr.Slope, tr.Steady = fp(r2(m)), fp(r2(sd)), fp(r2(sxy/sxx)), &steady
	tr.Sample = SampleOK
	return tr
}

// Entry is one subject of a ranking.
type Entry struct {
	Subject    string   `json:"subject"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Unit       string   `json:"unit"`
	UnitName   string   `json:"unit_name"`
	Region     string   `json:"region,omitempty"`
	RegionName string   `json:"region_name,omitempty"` // filled by the server from its region tree
	Composite  *float64 `json:"composite"`
	Rank       *int     `json:"rank"`
	Percentile *float64 `json:"percentile"`
	Missing    []string `json:"missing,omitempty"`
}

// Ranking is the 红黑榜 of one peer group in one period: the subjects with a composite by
// rank, the red list (top) and the black list (bottom), and the subjects left unranked for
// want of data (样本不足).
type Ranking struct {
	Period    string  `json:"period"`
	PeerGroup string  `json:"peer_group"`
	Sample    string  `json:"sample"`
	ListSize  int     `json:"list_size"`
	Ranked    []Entry `json:"ranked"`
	Red       []Entry `json:"red"`
	Black     []Entry `json:"black"`
	Unranked  []Entry `json:"unranked"`
}

func entryOf(s *Score) Entry {
	return Entry{Subject: s.Subject, Kind: s.Kind, Name: s.Name, Unit: s.Unit, UnitName: s.UnitName, Region: s.Region,
		Composite: s.Composite, Rank: s.Rank, Percentile: s.Percentile, Missing: s.Missing}
}

// Rank builds the 红黑榜 of the subjects ss of one peer group. The lists have
// k = min(list_size, ⌊ranked ÷ 2⌋) places each: red the subjects of rank ≤ k, black those with
// fewer than k subjects below them (ties at either boundary included), never a subject already
// red. A group with fewer than min_peers ranked subjects has no lists (样本不足). show, when
// set, leaves out of the reply the subjects it is false for (ranks and lists stay those of the
// whole group).
func Rank(cfg Config, period, group string, ss []*Score, show func(*Score) bool) Ranking {
	rk := Ranking{Period: period, PeerGroup: group, Sample: SampleInsufficient, Ranked: []Entry{}, Red: []Entry{},
		Black: []Entry{}, Unranked: []Entry{}}
	shown := func(s *Score) bool { return show == nil || show(s) }
	var ranked []*Score
	for _, s := range ss {
		if s.Rank != nil {
			ranked = append(ranked, s)
		} else if shown(s) {
			rk.Unranked = append(rk.Unranked, entryOf(s))
		}
	}
	slices.SortFunc(ranked, func(a, b *Score) int {
		return cmp.Or(cmp.Compare(*a.Rank, *b.Rank), cmp.Compare(a.Subject, b.Subject))
	})
	for _, s := range ranked {
		if shown(s) {
			rk.Ranked = append(rk.Ranked, entryOf(s))
		}
	}
	if len(ranked) < cfg.MinPeers {
		return rk
	}
	rk.Sample = SampleOK
	k := min(cfg.ListSize, len(ranked)/2)
	rk.ListSize = k
	if k == 0 {
		return rk
	}
	red := map[string]bool{}
	for _, s := range ranked {
		if *s.Rank <= k {
			red[s.Subject] = true
			if shown(s) {
				rk.Red = append(rk.Red, entryOf(s))
			}
		}
	}
	// Black, lowest first: fewer than k subjects below.
	for i := len(ranked) - 1; i >= 0; i-- {
		s := ranked[i]
		below := 0
		for _, o := range ranked {
			if *o.Composite < *s.Composite {
				below++
			}
		}
		if below < k && !red[s.Subject] && shown(s) {
			rk.Black = append(rk.Black, entryOf(s))
		}
	}
	return rk
}

// Window evaluates the trend window ending at p (TrendPeriods periods), oldest first; load
// gives each period's input.
func Window(cfg Config, p Period, load func(Period) (Input, error)) ([]*Result, error) {
	out := make([]*Result, 0, cfg.TrendPeriods)
	for i := cfg.TrendPeriods - 1; i >= 0; i-- {
		in, err := load(p.Back(i))
		if err != nil {
			return nil, err
		}
		out = append(out, Evaluate(cfg, in))
	}
	return out, nil
}

// PeerCell is the peer group's median of one survey cell (evaluator type × dimension) over
// the subjects that show it; none with fewer than min_peers such subjects (样本不足).
type PeerCell struct {
	EvaluatorType string   `json:"evaluator_type"`
	Dimension     string   `json:"dimension"`
	Median        *float64 `json:"median"`
	Subjects      int      `json:"subjects"` // subjects of the group showing the cell
	Sample        string   `json:"sample"`
}

// PeerType is the peer group's median of one evaluator type's mean.
type PeerType struct {
	EvaluatorType string   `json:"evaluator_type"`
	Median        *float64 `json:"median"`
	Subjects      int      `json:"subjects"`
	Sample        string   `json:"sample"`
}

// Peers is what 横向比 shows of a subject's peer group beside it: the medians of the survey
// cells and evaluator types, and the group's composites (the distribution, lowest first, no
// names) with their median and quartiles. Subjects never shown to the caller still count: the
// group is the tenant's.
type Peers struct {
	PeerGroup       string     `json:"peer_group"`
	Subjects        int        `json:"subjects"`
	Cells           []PeerCell `json:"cells"`
	Types           []PeerType `json:"types"`
	Composites      []float64  `json:"composites"`
	CompositeMedian *float64   `json:"composite_median"`
	CompositeQ1     *float64   `json:"composite_q1"`
	CompositeQ3     *float64   `json:"composite_q3"`
	SurveyMedian    *float64   `json:"survey_median"`
	DataMedian      *float64   `json:"data_median"`
	VisibleMedian   *float64   `json:"visible_median"`
	// Dimensions are the medians of the subjects' dimension scores (DimensionsOf), the radar's
	// peer polygon.
	Dimensions   []PeerDim `json:"dimensions"`
	LatentMedian *float64  `json:"latent_median"`
	Sample       string    `json:"sample"` // ok when at least min_peers have a composite
}

// PeerDim is the peer group's median of one dimension's score.
type PeerDim struct {
	Dimension string   `json:"dimension"`
	Median    *float64 `json:"median"`
	Subjects  int      `json:"subjects"`
	Sample    string   `json:"sample"`
}

// quantile is the q-quantile of sorted xs (linear between the closest ranks).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 1 {
		return xs[0]
	}
	p := q * float64(len(xs)-1)
	i := int(math.Floor(p))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (p-float64(i))*(xs[i+1]-xs[i])
}

// PeersOf summarises the peer group ss (one group's subjects of a Result) for a portrait.
func PeersOf(cfg Config, group string, ss []*Score) Peers {
	p := Peers{PeerGroup: group, Subjects: len(ss), Cells: []PeerCell{}, Types: []PeerType{}, Composites: []float64{},
		Sample: SampleInsufficient}
	med := func(xs []float64) (*float64, string) {
		if len(xs) < cfg.MinPeers || len(xs) == 0 {
			return nil, SampleInsufficient
		}
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return fp(r2(quantile(xs, 0.5))), SampleOK
	}
	for ti, t := range event.EvaluatorTypes {
		var tv []float64
		for _, s := range ss {
			if ti < len(s.Survey.Types) && s.Survey.Types[ti].Mean != nil {
				tv = append(tv, *s.Survey.Types[ti].Mean)
			}
		}
		m, smp := med(tv)
		p.Types = append(p.Types, PeerType{EvaluatorType: t, Median: m, Subjects: len(tv), Sample: smp})
		for di, d := range event.Dimensions {
			var cv []float64
			k := ti*len(event.Dimensions) + di
			for _, s := range ss {
				if k < len(s.Survey.Cells) && s.Survey.Cells[k].Mean != nil {
					cv = append(cv, *s.Survey.Cells[k].Mean)
				}
			}
			m, smp := med(cv)
			p.Cells = append(p.Cells, PeerCell{EvaluatorType: t, Dimension: d, Median: m, Subjects: len(cv), Sample: smp})
		}
	}
	var sv, dv, vv, lv []float64
	for _, s := range ss {
		if s.Composite != nil {
			p.Composites = append(p.Composites, *s.Composite)
		}
		for _, x := range []struct {
			v   *float64
			out *[]float64
		}{{s.Survey.Score, &sv}, {s.Data.Score, &dv}, {s.Data.Visible, &vv}, {s.Data.Latent, &lv}} {
			if x.v != nil {
				*x.out = append(*x.out, *x.v)
			}
		}
	}
	slices.Sort(p.Composites)
	p.Dimensions = []PeerDim{}
	for di, d := range event.Dimensions {
		var xs []float64
		for _, s := range ss {
			if ds := dimScores(cfg, s)[di]; ds.Score != nil {
				xs = append(xs, *ds.Score)
			}
		}
		m, smp := med(xs)
		p.Dimensions = append(p.Dimensions, PeerDim{Dimension: d, Median: m, Subjects: len(xs), Sample: smp})
	}
	p.SurveyMedian, _ = med(sv)
	p.DataMedian, _ = med(dv)
	p.VisibleMedian, _ = med(vv)
	p.LatentMedian, _ = med(lv)
	if len(p.Composites) >= cfg.MinPeers && len(p.Composites) > 0 {
		p.Sample = SampleOK
		p.CompositeMedian = fp(r2(quantile(p.Composites, 0.5)))
		p.CompositeQ1 = fp(r2(quantile(p.Composites, 0.25)))
		p.CompositeQ3 = fp(r2(quantile(p.Composites, 0.75)))
	}
	return p
}

// Group is one peer group of a period: its name, kind and number of subjects.
type Group struct {
	PeerGroup string `json:"peer_group"`
	Kind      string `json:"kind"` // cadre, unit or party
	Subjects  int    `json:"subjects"`
}

// GroupsOf lists a result's peer groups: cadre post types first, then units, then party
// organisations, each by name.
func GroupsOf(r *Result) []Group {
	out := []Group{}
	for g, ss := range r.Groups {
		k := KindCadre
		switch {
		case strings.HasPrefix(g, UnitPeerPrefix):
			k = KindUnit
		case strings.HasPrefix(g, PartyPeerPrefix):
			k = "party"
		}
		out = append(out, Group{PeerGroup: g, Kind: k, Subjects: len(ss)})
	}
	order := map[string]int{KindCadre: 0, KindUnit: 1, "party": 2}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(cmp.Compare(order[a.Kind], order[b.Kind]), cmp.Compare(a.PeerGroup, b.PeerGroup))
	})
	return out
}

// DimScore is a subject's score on one dimension over the evaluator types that show it
// (type-weighted mean of the shown cells) beside the peer group's median of the same.
type DimScore struct {
	Dimension string   `json:"dimension"`
	Zh        string   `json:"zh"`
	En        string   `json:"en"`
	Score     *float64 `json:"score"`
	Types     int      `json:"types"` // evaluator types showing the dimension
	Sample    string   `json:"sample"`
}

// dimScores are s's scores per dimension, in event.Dimensions order.
func dimScores(cfg Config, s *Score) []DimScore {
	out := make([]DimScore, 0, len(event.Dimensions))
	for di, d := range event.Dimensions {
		ds := DimScore{Dimension: d, Zh: DimNames[d][0], En: DimNames[d][1], Sample: SampleInsufficient}
		var w, v float64
		for ti, t := range event.EvaluatorTypes {
			k := ti*len(event.Dimensions) + di
			if s == nil || k >= len(s.Survey.Cells) || s.Survey.Cells[k].Mean == nil {
				continue
			}
			ds.Types++
			w += cfg.TypeWeights[t]
			v += cfg.TypeWeights[t] * *s.Survey.Cells[k].Mean
		}
		if w > 0 {
			ds.Score, ds.Sample = fp(r2(v/w)), SampleOK
		}
		out = append(out, ds)
	}
	return out
}

// DimensionsOf is a portrait's radar: the subject's score on each dimension (type-weighted
// mean of its shown cells); Peers.Dimensions holds the peer group's medians of the same.
func DimensionsOf(cfg Config, s *Score) []DimScore { return dimScores(cfg, s) }
