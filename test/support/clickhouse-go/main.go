// Reads statements through ClickHouse's Go client (clickhouse-go, as Grafana's ClickHouse plugin
// uses it) over HTTP or the native protocol, for test/integration/sql-port.test.ts.
//
//	clickhouse-go <http|native> <host:port> <password> <none|lz4|zstd|gzip> <statement>...
//
// One JSON line per statement: its columns (name, database type) and rows, or its error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type answer struct {
	Statement string   `json:"statement"`
	Columns   []column `json:"columns,omitempty"`
	Rows      [][]any  `json:"rows,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func run(ctx context.Context, conn clickhouse.Conn, statement string) answer {
	out := answer{Statement: statement}
	rows, err := conn.Query(ctx, statement)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	for _, t := range types {
		out.Columns = append(out.Columns, column{Name: t.Name(), Type: t.DatabaseTypeName()})
	}
	for rows.Next() {
		cells := make([]any, len(types))
		for i, t := range types {
			cells[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(cells...); err != nil {
			out.Error = err.Error()
			return out
		}
		row := make([]any, len(cells))
		for i, c := range cells {
			// Nullable columns scan into pointers: nil is NULL.
			value := reflect.ValueOf(c).Elem()
			for value.Kind() == reflect.Pointer && !value.IsNil() {
				value = value.Elem()
			}
			if value.Kind() == reflect.Pointer {
				row[i] = json.RawMessage("null")
				continue
			}
			v := value.Interface()
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339Nano)
			}
			// Wide integers and decimals as their text, so the test compares digits.
			row[i] = json.RawMessage(jsonOrText(v))
		}
		out.Rows = append(out.Rows, row)
	}
	if err := rows.Err(); err != nil {
		out.Error = err.Error()
	}
	return out
}

func jsonOrText(v any) []byte {
	if s, ok := v.(fmt.Stringer); ok {
		b, _ := json.Marshal(s.String())
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	return b
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: clickhouse-go <http|native> <host:port> <password> <none|lz4|zstd|gzip> <statement>...")
		os.Exit(2)
	}
	protocols := map[string]clickhouse.Protocol{"http": clickhouse.HTTP, "native": clickhouse.Native}
	protocol, ok := protocols[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown protocol:", os.Args[1])
		os.Exit(2)
	}
	args := os.Args[2:]
	methods := map[string]clickhouse.CompressionMethod{
		"none": clickhouse.CompressionNone,
		"lz4":  clickhouse.CompressionLZ4,
		"zstd": clickhouse.CompressionZSTD,
		"gzip": clickhouse.CompressionGZIP,
	}
	method, ok := methods[args[2]]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown compression:", args[2])
		os.Exit(2)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    protocol,
		Addr:        []string{args[0]},
		Auth:        clickhouse.Auth{Database: "default", Username: "grafana", Password: args[1]},
		Compression: &clickhouse.Compression{Method: method},
		DialTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ping:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, statement := range args[3:] {
		if err := enc.Encode(run(ctx, conn, statement)); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
	}
}
