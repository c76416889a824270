// Command pushledger-ferretdb runs FerretDB 1.x (MongoDB wire protocol) embedded
// through its public ferretdb package, with the PostgreSQL backend.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb` builds a
// binary that panics at start (the git-ignored build/version/version.txt is missing
// from the module); the embedded package does not need that file.
//
// Used by deploy/local/infra.sh; it logs warnings and errors only and exits 0 on
// SIGTERM/SIGINT after closing the listener and the backend pool.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	pgURL := flag.String("postgresql-url", "postgres://pushledger:pushledger@127.0.0.1:5432/ferretdb", "PostgreSQL backend URL")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error (warn logs every failed command in full)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "pushledger-ferretdb: bad -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Always printed (at any level): the line infra.sh and people look for.
	fmt.Fprintf(os.Stderr, "pushledger-ferretdb: listening on %s, backend postgresql\n", *listen)

	if err := f.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", "error", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "pushledger-ferretdb: stopped")
}
