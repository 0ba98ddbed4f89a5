// Package wallclock reads the wall clock for the times of records and
// the IDs made from them, without the monotonic reading that time.Now
// also makes.
package wallclock
