package evaluation

import (
	"cmp"
	"math"
	"slices"
)

// TrendPoint is one period of 纵向比.
type TrendPoint struct {
	Period    string   `json:"period"`
	Composite *float64 `json:"composite"`
	Survey    *float64 `json:"survey"`
	Data      *float64 `json:"data"`
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
