//go:build race

package spool_test

// childBurst is the events a child's goroutine logs per 10ms: fewer under
// -race, where SQLite writes more slowly.
const childBurst = 10

// raceEnabled is whether -race is on: timings are not meaningful under it.
const raceEnabled = true
