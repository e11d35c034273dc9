// Command zhili is the one binary: serve, simulate, bench, import, migrate, version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // time zones without the system's tzdata (intranet machines)
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `zhili — real-time command-center dashboard server (治理)

Usage:
  zhili serve     [flags]   run the server (--demo for the demo city with 90 days of history going on live)
  zhili simulate  [flags]   send a realistic event stream to a server
  zhili bench     [flags]   load-test a server: WebSocket clients + an event rate
  zhili import regions [flags] FILE...   check region GeoJSON and import it into --data
  zhili import cases [flags] FILE        backfill case history from a CSV or Open311 JSON export through a server's ingest API
  zhili import catalog [flags] FILE      check a catalogue of category and department names and import it into --data
  zhili import roster [flags] FILE       check a roster (units, cadres, grid staff, party organisations; YAML, CSV, XLSX) and import it into --data
  zhili migrate   --clickhouse DSN        apply the ClickHouse schema migrations (idempotent)
  zhili version             print the version

Run "zhili <command> -h" for the flags of a command. Every flag can also be given as an
environment variable ZHILI_<FLAG> (e.g. ZHILI_LISTEN) or a key in the --config YAML file.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "simulate":
		err = runSimulate(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "import":
		err = runImport(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "zhili %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "zhili: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "zhili %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
