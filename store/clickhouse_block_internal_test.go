package store

import (
	"testing"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"zhili/internal/testsvc"
)

// chReserve reaches the driver's string buffers (a String column, and the strings of an
// Array(String)) and sizes them for the block; other columns are left alone. It relies on the
// driver's layout: this test fails when a driver upgrade changes it.
func TestChReserve(t *testing.T) {
	t.Parallel() // a database of its own on the shared server
	ch := testsvc.SharedClickHouse(t)
	dsn := ch.NewDatabase(t)
	opt := ClickHouseOptions{}
	if err := opt.defaults(); err != nil {
		t.Fatal(err)
	}
	conn, _, _, err := chConnect(t.Context(), dsn, &opt)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(t.Context(), `CREATE TABLE r (s String, a Array(String), n UInt64) ENGINE = Memory`); err != nil {
		t.Fatal(err)
	}
	b, err := conn.PrepareBatch(t.Context(), `INSERT INTO r (s, a, n)`)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Abort()
	cols := b.Columns()
	chReserve(cols[0], []string{"abc", "de", ""})
	chReserve(cols[1], [][]string{{"411502", "411502001"}, {}, {"x"}})
	chReserve(cols[2], []uint64{1, 2, 3})
	s, ok := chField[proto.ColStr](cols[0].(*column.String), "col")
	if !ok || cap(s.Buf) != 5 || cap(s.Pos) != 3 {
		t.Fatalf("String column not sized: found %v, %+v", ok, s)
	}
	arr, ok := cols[1].(*column.Array)
	if !ok {
		t.Fatalf("Array column is %T", cols[1])
	}
	inner, ok := chField[column.Interface](arr, "values")
	if !ok {
		t.Fatal("Array column has no values field")
	}
	a, ok := chField[proto.ColStr]((*inner).(*column.String), "col")
	if !ok || cap(a.Buf) != 16 || cap(a.Pos) != 3 {
		t.Fatalf("Array(String) column not sized: found %v, %+v", ok, a)
	}
	// Filled as usual afterwards.
	for i, c := range []any{[]string{"abc", "de", ""}, [][]string{{"411502", "411502001"}, {}, {"x"}}, []uint64{1, 2, 3}} {
		if err := b.Column(i).Append(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var n, l uint64
	if err := conn.QueryRow(t.Context(), `SELECT count(), sum(length(s)) + sum(length(arrayStringConcat(a))) FROM r`).Scan(&n, &l); err != nil || n != 3 || l != 21 {
		t.Fatalf("stored %d rows, %d bytes (%v), want 3, 21", n, l, err)
	}
}
