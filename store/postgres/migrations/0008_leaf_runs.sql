-- Runs of leaves (issue 22): a row of the tree's leaves holds up to 16
-- consecutive leaves, n of them from the leaf seq on, so that a sealing
-- step writes one row for 16 leaves rather than one for each: their salts
-- (NULL for a run of placeholders) and their commitments, 32 bytes a
-- leaf, and the stored hashes they add, concatenated. A run never
-- crosses a multiple of 16 leaves, so the row of leaf k is the one with
-- seq <= k < seq + n, found from k - 15 on. Rows written before hold one
-- leaf (n = 1). The columns are stored as they are, never compressed nor
-- moved out of the row: random bytes do not compress, and a row holds at
-- most 16 · 64 bytes and 16 + 63 hashes (under 4 kB).
--
-- Written for {{.Name}}.

-- The rows written before hold one leaf; a row written from now on says
-- how many it holds: a sealer of an earlier version, which does not,
-- fails rather than add rows of one leaf over the runs.
ALTER TABLE {{.TreeLeaves}} ADD COLUMN n integer NOT NULL DEFAULT 1;
ALTER TABLE {{.TreeLeaves}} ALTER COLUMN n DROP DEFAULT;

-- the checks of migration 6 held one leaf a row
DO $do$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT conname FROM pg_catalog.pg_constraint
        WHERE conrelid = {{.TreeLeavesQLit}}::pg_catalog.regclass AND contype = 'c'
          AND (pg_catalog.strpos(pg_catalog.pg_get_constraintdef(oid), 'salt') > 0
               OR pg_catalog.strpos(pg_catalog.pg_get_constraintdef(oid), 'commitment') > 0)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {{.TreeLeavesQLit}}, c.conname);
    END LOOP;
END
$do$;

ALTER TABLE {{.TreeLeaves}}
    ADD CONSTRAINT tree_leaves_run CHECK (n BETWEEN 1 AND 16 AND (seq - 1) % 16 + n <= 16),
    ADD CONSTRAINT tree_leaves_salt CHECK (length(salt) = 32 * n),
    ADD CONSTRAINT tree_leaves_commitment CHECK (length(commitment) = 32 * n),
    ALTER COLUMN salt SET STORAGE PLAIN,
    ALTER COLUMN commitment SET STORAGE PLAIN,
    ALTER COLUMN hashes SET STORAGE PLAIN;
