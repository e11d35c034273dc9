package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"zhili/internal/app"
	"zhili/store"
)

// runMigrate applies the ClickHouse schema migrations embedded in this binary.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dsn, tz string
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dsn, "clickhouse", "", "ClickHouse DSN (clickhouse://host:9000/db)")
	fs.StringVar(&tz, "tz", app.DefaultZone, "deployment time zone of the per-day rollups")
	var config string
	if _, err := parseFlags(fs, args, &config); err != nil {
		return err
	}
	if dsn == "" {
		return errors.New("--clickhouse is required (the embedded store migrates itself on open)")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return fmt.Errorf("--tz: %w", err)
	}
	applied, version, err := store.MigrateClickHouse(ctx, dsn, store.ClickHouseOptions{Loc: loc})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ClickHouse %s: %d migration(s) applied\n", version, len(applied))
	for _, m := range applied {
		fmt.Fprintf(stdout, "  %s\n", m)
	}
	return nil
}
