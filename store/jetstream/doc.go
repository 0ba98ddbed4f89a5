// Package jetstream carries audit records from many service instances
// through a NATS JetStream stream into one store.
package jetstream
