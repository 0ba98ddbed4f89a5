package audit

// RaceEnabled tells the external tests whether -race is on: allocation
// counts are not meaningful under it.
const RaceEnabled = raceEnabled
