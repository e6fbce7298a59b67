// Command goproducer is a gateway written in Go with the standard library only: it encodes readings as the
// contract's GatewayBatch (contracts/gridwatch.schema.json) in msgpack, by hand, and posts them to the ingest.
//
//	INGEST_URL=http://127.0.0.1:8010 TOKEN=... SENSORS=20 STEPS=50 go run .
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"
)

// enc writes the msgpack subset the contract needs: maps, arrays, strings, float64, int64 and nil.
type enc struct{ bytes.Buffer }

func (e *enc) mapHeader(n int)   { e.header(n, 0x80, 0xde, 0xdf) }
func (e *enc) arrayHeader(n int) { e.header(n, 0x90, 0xdc, 0xdd) }

func (e *enc) header(n int, fix, b16, b32 byte) {
	switch {
	case n < 16:
		e.WriteByte(fix | byte(n))
	case n < 1<<16:
		e.WriteByte(b16)
		_ = binary.Write(e, binary.BigEndian, uint16(n))
	default:
		e.WriteByte(b32)
		_ = binary.Write(e, binary.BigEndian, uint32(n))
	}
}

func (e *enc) str(s string) {
	switch n := len(s); {
	case n < 32:
		e.WriteByte(0xa0 | byte(n))
	case n < 1<<8:
		e.WriteByte(0xd9)
		e.WriteByte(byte(n))
	default:
		e.WriteByte(0xda)
		_ = binary.Write(e, binary.BigEndian, uint16(n))
	}
	e.WriteString(s)
}

func (e *enc) float(f float64) {
	e.WriteByte(0xcb)
	_ = binary.Write(e, binary.BigEndian, math.Float64bits(f))
}

func (e *enc) int(i int64) {
	e.WriteByte(0xd3)
	_ = binary.Write(e, binary.BigEndian, i)
}

func env(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return fallback
}

func main() {
	url, token := os.Getenv("INGEST_URL"), os.Getenv("TOKEN")
	sensors, steps := env("SENSORS", 20), env("STEPS", 50)
	start := time.Now().Add(-time.Hour).UnixMilli()
	types := []string{"power", "current", "voltage", "temperature", "pressure", "vibration"}
	base := []float64{40, 60, 400, 55, 6, 2}

	var e enc
	e.mapHeader(3)
	e.str("sensors")
	e.arrayHeader(sensors)
	for i := 0; i < sensors; i++ {
		e.mapHeader(3)
		e.str("id")
		e.str(fmt.Sprintf("go-%02d-%s", i, types[i%6]))
		e.str("type")
		e.str(types[i%6])
		e.str("machine")
		e.str(fmt.Sprintf("go-machine-%d", i/6))
	}
	e.str("ts")
	e.arrayHeader(steps)
	for j := 0; j < steps; j++ {
		e.int(start + int64(j)*1000)
	}
	e.str("values")
	e.arrayHeader(sensors)
	for i := 0; i < sensors; i++ {
		e.arrayHeader(steps)
		for j := 0; j < steps; j++ {
			e.float(base[i%6] + math.Sin(float64(j)/5))
		}
	}

	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/ingest/telemetry", &e.Buffer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/msgpack")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	if resp.StatusCode != http.StatusAccepted {
		os.Exit(1)
	}
}
