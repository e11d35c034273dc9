package app

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"zhili/evaluation"
	"zhili/event"
	"zhili/ingest"
	"zhili/roster"
)

// The demo's survey records (三评): for each leading cadre of the demo roster, and each unit and
// party organisation above the villages, each quarter the history covers, three to five raters
// of each evaluator type score the five dimensions (served citizens on 1-5, the others on
// 0-100), around a level of the subject's own; now and then the served citizens are only two
// (样本不足). Sent with the history, so that the evaluation routes have something to show for
// every peer group but the villages' (docs/EVALUATION.md).

// demoSurveyLines returns the survey lines for the quarters overlapping [end − span, end).
func demoSurveyLines(ro *roster.Roster, end time.Time, span time.Duration, seed uint64) [][]byte {
	var out [][]byte
	first, err := evaluation.ParsePeriod(fmt.Sprintf("%d-Q%d", end.Add(-span).Year(), (int(end.Add(-span).Month())-1)/3+1))
	if err != nil {
		return nil
	}
	for p := first; ; p = p.Back(-1) {
		from, to := p.Bounds(end.Location())
		if !from.Before(end) {
			break
		}
		// A quarter that has ended is rated on its last day, the running one on its first (the
		// same lines whenever the history is sent again within the quarter).
		at := to.Add(-24 * time.Hour)
		if !at.Before(end) {
			at = from
		}
		fromDay, toDay := from.Format(time.DateOnly), to.Format(time.DateOnly)
		var subjects []string
		for _, c := range ro.Cadres {
			if !c.Leader || c.From >= toDay || c.To != "" && c.To <= fromDay {
				continue
			}
			// The village secretaries (one per grid, 3,634 in the demo city) are left out: rating
			// them all would send five times the history's own lines and hold the start up. So
			// are the villages' units and party organisations below.
			if c.PostType == demoVillagePostType {
				continue
			}
			subjects = append(subjects, c.ID)
		}
		for _, u := range ro.Units {
			if u.Kind != "village" && u.Kind != "grid" {
				subjects = append(subjects, u.Code)
			}
		}
		for _, o := range ro.Party {
			if o.Level != "village" && o.Level != "grid" {
				subjects = append(subjects, o.Code)
			}
		}
		n := 0
		for _, subject := range subjects {
			r := rand.New(rand.NewPCG(seed, hashString(p.Name+"/"+subject)))
			level := 60 + 30*r.Float64() // the subject's standing
			for _, typ := range event.EvaluatorTypes {
				raters := 3 + r.IntN(3)
				if typ == event.EvaluatorServed && r.IntN(8) == 0 {
					raters = 2
				}
				for k := 0; k < raters; k++ {
					for _, dim := range event.Dimensions {
						score := math.Max(0, math.Min(100, level+r.NormFloat64()*8))
						scale := "0-100"
						if typ == event.EvaluatorServed {
							score, scale = math.Round(1+score/25), "1-5" // 0-100 → 1-5
						} else {
							score = math.Round(score)
						}
						n++
						out = append(out, fmt.Appendf(nil, `{"id":"demo-sv-%s-%d","type":"evaluation.survey","at":%q,"survey":{"evaluator_type":%q,"dimension":%q,"score":%v,"scale":%q,"period":%q,"subject":%q,"rater":"demo-%s-%s-%d"}}`,
							p.Name, n, at.Format(time.RFC3339), typ, dim, score, scale, p.Name, subject, subject, typ, k))
					}
				}
			}
		}
	}
	return out
}

// demoVillagePostType is the post type of the demo roster's village party secretaries.
const demoVillagePostType = "村社党组织书记"

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// sendDemoSurveys sends the demo's survey records through the door.
func (a *App) sendDemoSurveys(ctx context.Context, end time.Time) (int, error) {
	seed := a.cfg.DemoSeed
	if seed == 0 {
		seed = 1
	}
	lines := demoSurveyLines(a.Roster.Load(), end.In(a.cfg.Loc), a.cfg.DemoHistory, seed)
	sent := 0
	for i := 0; i < len(lines); i += a.demoBatch() {
		body := bytes.Join(lines[i:min(i+a.demoBatch(), len(lines))], []byte("\n"))
		rep, err := a.Door.Ingest(ctx, ingest.ContentNDJSON, body, nil)
		if err != nil {
			return sent, err
		}
		sent += rep.Accepted + rep.Duplicates
		if len(rep.Rejected) > 0 {
			r := rep.Rejected[0]
			a.cfg.Logger.Warn("demo surveys: lines refused", "count", len(rep.Rejected), "first", fmt.Sprintf("line %d %s: %s", r.Line, r.ID, r.Error))
		}
	}
	return sent, nil
}
