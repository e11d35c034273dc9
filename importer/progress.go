package importer

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// countingReader counts the bytes read through it (for the share of the file done).
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress reports rows and events: one line redrawn in place on a terminal, plain lines every
// Options.ProgressEvery otherwise.
type progress struct {
	w          io.Writer
	tty        bool
	every      time.Duration
	start      time.Time
	last       time.Time
	size       int64 // input size in bytes (0: unknown)
	read       *countingReader
	lastLength int
}

func newProgress(w io.Writer, every time.Duration, size int64, read *countingReader) *progress {
	p := &progress{w: w, every: every, start: time.Now(), size: size, read: read}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
			p.every = 200 * time.Millisecond
		}
	}
	if p.every <= 0 {
		p.every = 10 * time.Second
	}
	p.last = p.start
	return p
}

// tick reports when due (or always when final).
func (p *progress) tick(rows, events int, final bool) {
	if p == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	el := now.Sub(p.start)
	secs := max(el.Seconds(), 1e-3)
	var share, eta string
	if p.size > 0 {
		f := float64(p.read.n.Load()) / float64(p.size)
		share = fmt.Sprintf(" · %.0f%%", 100*min(f, 1))
		if !final && f > 0.001 && el > time.Second {
			left := time.Duration(float64(el) * (1 - f) / f).Round(time.Second)
			eta = " · 剩余 ETA " + left.String()
		}
	}
	line := fmt.Sprintf("导入 importing: %s 行 rows (%s/s) · %s 事件 events (%s/s)%s%s · %s",
		thousands(rows), thousands(int(float64(rows)/secs)), thousands(events), thousands(int(float64(events)/secs)),
		share, eta, el.Round(time.Second))
	if p.tty {
		pad := ""
		if n := utf8.RuneCountInString(line); n < p.lastLength {
			pad = strings.Repeat(" ", p.lastLength-n)
		}
		p.lastLength = utf8.RuneCountInString(line)
		fmt.Fprint(p.w, "\r"+line+pad)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, line)
}

// thousands formats n with thousands separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// WriteSummary writes the import's summary table: rows read, imported, skipped and refused,
// events by type, server rejections and warnings by kind, the commonest unmapped categories.
func (r Report) WriteSummary(w io.Writer) {
	row := func(label string, n int, detail string) {
		line := fmt.Sprintf("  %s%s %9s  %s", label, strings.Repeat(" ", max(0, 36-width(label))), thousands(n), detail)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintln(w, "导入汇总 Import summary")
	if len(r.Columns) > 0 {
		var cs []string
		for _, f := range Fields {
			if c, ok := r.Columns[f]; ok {
				cs = append(cs, f+"="+c)
			}
		}
		fmt.Fprintf(w, "  列 columns: %s\n", strings.Join(cs, " "))
		if len(r.MissingColumns) > 0 {
			fmt.Fprintf(w, "  未找到的列 columns not in the file: %s\n", strings.Join(r.MissingColumns, " "))
		}
	}
	row("读取行 rows read", r.Rows, "")
	row("已导入 rows imported", r.Imported, "")
	if r.Unlocated > 0 {
		row("  未定位 imported as unlocated", r.Unlocated, "no point, no known region: counted for their department")
	}
	row("跳过 rows skipped (not sent)", sum(r.Skipped), kinds(r.Skipped))
	row("被拒 rows refused by the server", r.Cases-r.Imported, "")
	row("事件 events sent", r.Events, "")
	row("  接受 accepted", r.Accepted, "")
	row("  重复 duplicates", r.Duplicates, "")
	row("  拒绝 rejected", sum(r.Rejected), kinds(r.Rejected))
	for _, t := range sortedKeys(r.Sent) {
		row("  "+t, r.Sent[t], "")
	}
	row("警告 warnings", sum(r.Warnings), kinds(r.Warnings))
	if r.Replaced > 0 {
		row("更正 corrections sent (superseding)", r.Replaced, "")
	}
	if len(r.Unmapped) > 0 {
		type kv struct {
			v string
			n int
		}
		var l []kv
		for v, n := range r.Unmapped {
			l = append(l, kv{v, n})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].v < l[j].v })
		var s []string
		for i, x := range l {
			if i == 10 {
				s = append(s, fmt.Sprintf("… %d more", len(l)-10))
				break
			}
			s = append(s, fmt.Sprintf("%q %d", x.v, x.n))
		}
		fmt.Fprintf(w, "  未映射类别 unmapped categories (%d values): %s\n", len(l), strings.Join(s, ", "))
	}
	fmt.Fprintf(w, "  用时 elapsed %s\n", r.Elapsed.Round(time.Millisecond))
}

// width is the columns s takes on a terminal (East Asian wide characters take two).
func width(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x1100 && (r <= 0x115f || r >= 0x2e80 && r <= 0xa4cf || r >= 0xac00 && r <= 0xd7a3 || r >= 0xf900 && r <= 0xfaff || r >= 0xfe30 && r <= 0xfe4f || r >= 0xff00 && r <= 0xff60 || r >= 0xffe0 && r <= 0xffe6) {
			n++
		}
	}
	return n
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// kinds lists a count map as "kind n, kind n" (largest first).
func kinds(m map[string]int) string {
	ks := sortedKeys(m)
	sort.SliceStable(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] })
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = fmt.Sprintf("%s %s", k, thousands(m[k]))
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
