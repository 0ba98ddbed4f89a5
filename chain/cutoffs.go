package chain

import (
	"hash"
	"maps"
	"time"

	"github.com/trailmark/audit/storekit"
)

// cutoffs is what the validly signed checkpoints say retention may have
// removed: for each tenant, the latest cutoff any checkpoint applied to
// it (its own, where the checkpoint lists it, or the checkpoint's
// PurgedBefore), and for every other record the latest PurgedBefore.
// Checkpoints may come in any order: the result is the same.
type cutoffs struct {
	def     time.Time
	tenants map[string]time.Time // the tenants some checkpoint lists
}

// add takes c's word for what may have been removed. The cutoffs of
// tenants left out (in a tenant's export, the other tenants') are not
// known: their records are not checked there.
func (k *cutoffs) add(c *storekit.Checkpoint) {
	own := map[string]time.Time{}
	for _, e := range c.TenantCutoffs {
		if e.TenantID != "" {
			own[e.TenantID] = later(own[e.TenantID], e.PurgedBefore)
		}
	}
	for t, at := range k.tenants {
		if own, ok := own[t]; ok {
			at = later(at, own)
		} else {
			at = later(at, c.PurgedBefore)
		}
		k.tenants[t] = at
	}
	for t, own := range own {
		if _, ok := k.tenants[t]; !ok {
			if k.tenants == nil {
				k.tenants = map[string]time.Time{}
			}
			// the checkpoints before did not list t: their PurgedBefore
			// applied to it
			k.tenants[t] = later(own, k.def)
		}
	}
	k.def = later(k.def, c.PurgedBefore)
}

// of returns the cutoff that applies to tenant's records.
func (k *cutoffs) of(tenant string) time.Time {
	if at, ok := k.tenants[tenant]; ok && tenant != "" {
		return at
	}
	return k.def
}

// listed returns a copy of the tenants' cutoffs, for a checkpoint that
// carries them on; nil for none.
func (k *cutoffs) listed() map[string]time.Time { return maps.Clone(k.tenants) }

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// tagCache remembers the TenantTag of the tenants seen under one key, up
// to a bound (a service has few tenants, or many and then no reuse to
// speak of).
type tagCache struct {
	mac  hash.Hash
	tags map[string][]byte
}

const tagCacheMax = 100_000

func (c *tagCache) tag(tenant string) []byte {
	if tenant == "" {
		return nil
	}
	if t, ok := c.tags[tenant]; ok {
		return t
	}
	t := tenantTag(c.mac, tenant)
	if c.tags == nil || len(c.tags) >= tagCacheMax {
		c.tags = map[string][]byte{}
	}
	c.tags[tenant] = t
	return t
}
