package jetstream

// DecodeRecord exposes decode to the tests.
var DecodeRecord = decode
