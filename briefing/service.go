package briefing

import (
	"context"
	"encoding/json"
	"sync"

	"zhili/errs"
)

// Config configures a Service.
type Config struct {
	Builder *Builder
	// Dir is where briefings are kept (<data>/briefings).
	Dir string
	// Printer prints briefings to PDF (nil: PDF answers errs Unavailable).
	Printer *Printer
}

// Service answers the briefing routes (server.Briefings through a small adapter): List, Get
// and PDF, and keeps the briefings of ended periods.
type Service struct {
	b  *Builder
	k  *Keeper
	pr *Printer

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one generation at a time per region × period
}

// NewService returns the service of cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Builder == nil || cfg.Builder.Store == nil || cfg.Builder.Tree == nil || cfg.Builder.Cal == nil {
		return nil, errs.E(errs.Invalid, "briefing", "briefing: the builder needs a store, a region tree and a calendar")
	}
	if cfg.Dir == "" {
		return nil, errs.E(errs.Invalid, "briefing", "briefing: no directory to keep briefings in")
	}
	return &Service{b: cfg.Builder, k: &Keeper{Dir: cfg.Dir}, pr: cfg.Printer, locks: map[string]*sync.Mutex{}}, nil
}

// Keeper is the service's store of briefings.
func (s *Service) Keeper() *Keeper { return s.k }

// Regions are the regions the scheduler keeps briefings for: the tree's root and its children.
func (s *Service) Regions() []string {
	root := s.b.Tree.Root
	out := []string{root.Code}
	for _, c := range root.Children {
		out = append(out, c.Code)
	}
	return out
}

func (s *Service) lock(key string) func() {
	s.mu.Lock()
	l := s.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// List returns the kept briefings of region, newest first, at most limit.
func (s *Service) List(_ context.Context, region string, limit int) ([]Info, error) {
	if s.b.Tree.Get(region) == nil {
		return nil, errs.E(errs.NotFound, "region", "unknown region %q", region)
	}
	return s.k.List(region, limit)
}

// Get returns the briefing of region and period as JSON: the kept one when there is one; else
// it is generated, and kept when the period has ended (a period not yet ended is answered
// provisional and not kept; one not yet begun is errs NotFound; a malformed period errs
// Invalid).
func (s *Service) Get(ctx context.Context, region, period string) ([]byte, error) {
	p, err := ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	body, _, err := s.get(ctx, region, p)
	return body, err
}

// Ensure makes sure the briefing of region and p is kept (made reports whether it was made
// now); a period not yet ended is not kept and is an error.
func (s *Service) Ensure(ctx context.Context, region string, p Period) (made bool, err error) {
	if s.k.Has(region, p) {
		return false, nil
	}
	_, made, err = s.get(ctx, region, p)
	if err == nil && !made {
		if !s.k.Has(region, p) {
			return false, errs.E(errs.Invalid, "period", "period %s has not ended: not kept", p)
		}
	}
	return made, err
}

// get returns the briefing's JSON, and whether it was generated and kept now.
func (s *Service) get(ctx context.Context, region string, p Period) ([]byte, bool, error) {
	if s.b.Tree.Get(region) == nil {
		return nil, false, errs.E(errs.NotFound, "region", "unknown region %q", region)
	}
	if body, ok, err := s.k.Load(region, p); err != nil || ok {
		return body, false, err
	}
	unlock := s.lock(region + "\x00" + p.String())
	defer unlock()
	if body, ok, err := s.k.Load(region, p); err != nil || ok {
		return body, false, err
	}
	br, err := s.b.Build(ctx, region, p)
	if err != nil {
		return nil, false, err
	}
	br.Kept = !br.Provisional
	body, err := json.Marshal(br)
	if err != nil {
		return nil, false, errs.Wrap(errs.Internal, "briefing", err, "cannot encode the briefing")
	}
	if br.Provisional {
		return body, false, nil
	}
	if err := s.k.Save(region, p, body); err != nil {
		return nil, false, err
	}
	return body, true, nil
}

// PDF returns the briefing printed to PDF (the page /briefing in print layout, in headless
// Chromium); errs Unavailable when no browser is installed or no printer is configured.
func (s *Service) PDF(ctx context.Context, region, period string) ([]byte, error) {
	p, err := ParsePeriod(period)
	if err != nil {
		return nil, err
	}
	if s.pr == nil {
		return nil, errs.E(errs.Unavailable, "pdf", "briefings are not printed to PDF by this server (no printer configured)")
	}
	// The briefing first: its errors (unknown region, period not begun) are the reply's, and
	// the page then reads the kept one.
	if _, _, err := s.get(ctx, region, p); err != nil {
		return nil, err
	}
	return s.pr.Print(ctx, region, p.String())
}
