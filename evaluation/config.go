// Package evaluation is the read side of 三评两比一综合: survey scores by evaluator type and
// dimension (三评), the cadre's own trend and the standing among peers of the same post type
// (两比: 纵向, 横向), and one composite whose every component and share is shown (一综合), with
// the 红黑榜 per post type and period. Zhili's own case figures give 实绩 (显绩 and 潜绩).
// It is pure: the survey records, the roster and the units' figures are handed in
// (docs/EVALUATION.md).
package evaluation

import (
	"fmt"
	"math"

	"zhili/event"
)

// Config holds the weights and guards; the zero value of a field takes its default.
type Config struct {
	// TypeWeights weigh the evaluator types, DimWeights the dimensions, in the survey score
	// (cell weight = type weight × dimension weight, normalised over the cells with enough
	// raters).
	TypeWeights map[string]float64 `json:"type_weights" yaml:"type_weights"`
	DimWeights  map[string]float64 `json:"dimension_weights" yaml:"dimension_weights"`
	// SurveyWeight and DataWeight split the composite between the survey score and 实绩.
	SurveyWeight float64 `json:"survey_weight" yaml:"survey_weight"`
	DataWeight   float64 `json:"data_weight" yaml:"data_weight"`
	// VisibleWeight and LatentWeight split 实绩 between 显绩 and 潜绩.
	VisibleWeight float64 `json:"visible_weight" yaml:"visible_weight"`
	LatentWeight  float64 `json:"latent_weight" yaml:"latent_weight"`
	// MinRaters: a survey cell (evaluator type × dimension) is shown only with at least this
	// many distinct raters (default 3); below, 样本不足.
	MinRaters int `json:"min_raters" yaml:"min_raters"`
	// MinCoverage: the share of the survey weight the shown cells must hold for a survey score
	// (default 0.5).
	MinCoverage float64 `json:"min_coverage" yaml:"min_coverage"`
	// MinSample: a unit's figure counts only with at least this many cases in its denominator
	// (default 10, as the audits).
	MinSample int64 `json:"min_sample" yaml:"min_sample"`
	// RateAdjust: how the rates are made comparable before they are normalised: peer (default:
	// each pulled toward the peer group's pooled rate, the more the fewer cases it rests on) or
	// none (as measured).
	RateAdjust string `json:"rate_adjust" yaml:"rate_adjust"`
	// MinPeers: a post type is compared (indicators normalised, percentiles, 红黑榜) only with
	// at least this many subjects that have the figure (default 3).
	MinPeers int `json:"min_peers" yaml:"min_peers"`
	// TrendPeriods is how many periods 纵向比 looks at, this one included (default 4).
	TrendPeriods int `json:"trend_periods" yaml:"trend_periods"`
	// SteadyStdev: a composite whose standard deviation over the trend is at most this is
	// 一贯 steady (default 5 points).
	SteadyStdev float64 `json:"steady_stdev" yaml:"steady_stdev"`
	// ListSize is the length of the red and black lists (default 3; at most half the ranked).
	ListSize int `json:"list_size" yaml:"list_size"`
}

// DefaultTypeWeights and DefaultDimWeights are the survey's default weights.
var (
	DefaultTypeWeights = map[string]float64{event.EvaluatorSuperior: 0.30, event.EvaluatorHead: 0.20,
		event.EvaluatorTeam: 0.15, event.EvaluatorMiddle: 0.15, event.EvaluatorServed: 0.20}
	DefaultDimWeights = map[string]float64{event.DimPerformance: 0.2, event.DimResponsibility: 0.2,
		event.DimTeamwork: 0.2, event.DimLeadership: 0.2, event.DimPurpose: 0.2}
)

// Resolved returns c with every default filled in, or an error naming a bad value.
func (c Config) Resolved() (Config, error) {
	if c.TypeWeights == nil {
		c.TypeWeights = DefaultTypeWeights
	}
	if c.DimWeights == nil {
		c.DimWeights = DefaultDimWeights
	}
	for _, w := range []struct {
		name  string
		m     map[string]float64
		known []string
	}{{"type_weights", c.TypeWeights, event.EvaluatorTypes}, {"dimension_weights", c.DimWeights, event.Dimensions}} {
		sum := 0.0
		for k, v := range w.m {
			if !contains(w.known, k) {
				return c, fmt.Errorf("evaluation: %s: unknown key %q", w.name, k)
			}
			if v < 0 || math.IsNaN(v) {
				return c, fmt.Errorf("evaluation: %s.%s: must be ≥ 0", w.name, k)
			}
			sum += v
		}
		if sum <= 0 {
			return c, fmt.Errorf("evaluation: %s: at least one weight must be > 0", w.name)
		}
	}
	if c.SurveyWeight == 0 && c.DataWeight == 0 {
		c.SurveyWeight, c.DataWeight = 0.6, 0.4
	}
	if c.VisibleWeight == 0 && c.LatentWeight == 0 {
		c.VisibleWeight, c.LatentWeight = 0.5, 0.5
	}
	for name, v := range map[string]float64{"survey_weight": c.SurveyWeight, "data_weight": c.DataWeight,
		"visible_weight": c.VisibleWeight, "latent_weight": c.LatentWeight} {
		if v < 0 || math.IsNaN(v) {
			return c, fmt.Errorf("evaluation: %s: must be ≥ 0", name)
		}
	}
	if c.MinRaters <= 0 {
		c.MinRaters = 3
	}
	if c.MinCoverage <= 0 {
		c.MinCoverage = 0.5
	}
	if c.MinCoverage > 1 {
		return c, fmt.Errorf("evaluation: min_coverage: at most 1")
	}
	if c.MinSample <= 0 {
		c.MinSample = 10
	}
	switch c.RateAdjust {
	case "":
		c.RateAdjust = AdjustPeer
	case AdjustPeer, AdjustNone:
	default:
		return c, fmt.Errorf("evaluation: rate_adjust: %q is neither %s nor %s", c.RateAdjust, AdjustPeer, AdjustNone)
	}
	if c.MinPeers <= 0 {
		c.MinPeers = 3
	}
	if c.TrendPeriods <= 0 {
		c.TrendPeriods = 4
	}
	if c.SteadyStdev <= 0 {
		c.SteadyStdev = 5
	}
	if c.ListSize <= 0 {
		c.ListSize = 3
	}
	return c, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Names of the evaluator types and dimensions, zh-CN then English.
var (
	TypeNames = map[string][2]string{event.EvaluatorSuperior: {"上级业务主管领导", "Supervising superior"},
		event.EvaluatorHead: {"单位一把手", "Head of unit"}, event.EvaluatorTeam: {"班子成员", "Leadership team member"},
		event.EvaluatorMiddle: {"中层干部", "Middle manager"}, event.EvaluatorServed: {"服务对象", "Served public"}}
	DimNames = map[string][2]string{event.DimPerformance: {"工作实绩", "Work performance"},
		event.DimResponsibility: {"责任担当", "Responsibility"}, event.DimTeamwork: {"团结协作", "Teamwork"},
		event.DimLeadership: {"领导能力", "Leadership"}, event.DimPurpose: {"宗旨意识", "Sense of purpose"}}
)

// Sample values of a figure: enough data, or 样本不足.
const (
	SampleOK           = "ok"
	SampleInsufficient = "insufficient"
	InsufficientZh     = "样本不足"
)

// Definitions are the written definitions of the evaluation (docs/EVALUATION.md), zh-CN then
// English.
var Definitions = map[string]string{
	"survey":     "三评 survey: each cell (evaluator type × dimension) is the mean of its raters' scores on 0-100 ((score − min) ÷ (max − min) × 100 on the stated scale), the last score of each rater counting, corrections in force; shown only with at least min_raters raters (样本不足 insufficient otherwise); the survey score weighs the shown cells by type weight × dimension weight, given when they hold at least min_coverage of the weight. Raters are never named.",
	"data":       "实绩 from Zhili's figures of the unit the cadre's post belongs to (roster, the term overlapping the period that began last): 显绩 visible = response, resolution, satisfaction and on-time rates; 潜绩 latent = cases without repeat complaints, closings that hold (not reopened, not unsatisfied), whistle answers on time (departments); each counted with at least min_sample cases; with rate_adjust peer (the default) each rate is pulled toward the peer group's pooled rate p̄ the more the fewer cases it rests on (empirical Bayes, beta-binomial by the method of moments): adjusted = (good + m × p̄) ÷ (cases + m), m larger the less the peers' rates differ beyond what chance makes them differ (no more than chance: everyone at p̄), credibility = cases ÷ (cases + m) the share that is the subject's own; the adjusted rates (the measured ones with rate_adjust none) are normalised among the peer group (same post type) as (x − min) ÷ (max − min) × 100 (all equal: 50) when at least min_peers have it; 实绩 = visible_weight × 显绩 + latent_weight × 潜绩 over the parts present.",
	"composite":  "一综合 composite = survey_weight × survey score + data_weight × 实绩 (weights normalised to sum to 1); both are required. Every component is listed with its value, weight, contribution (weight × value; they sum to the composite) and share of the composite.",
	"horizontal": "横向比 standing among the peer group's subjects with a composite: rank (1 = highest; equal composites share the better rank) and mid-rank percentile = (below + ½ × equal, itself included) ÷ n × 100; not given when fewer than min_peers have a composite.",
	"vertical":   "纵向比 the subject's composites over the last trend_periods periods: 一时 the latest; 一贯 their mean, volatility (population standard deviation, steady when ≤ steady_stdev) and slope (least squares, points per period), over the periods with a composite, at least two.",
	"lists":      "红黑榜 per post type and period: k = min(list_size, ⌊ranked ÷ 2⌋); red = rank ≤ k, black = fewer than k below (ties at the boundary included), never both; a subject without a composite is never ranked (unranked, with what is missing); a group with fewer than min_peers ranked has no lists.",
}
