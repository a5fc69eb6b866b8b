-- Included first by every script that builds a key name from data it reads. ARGV[1] is the key layout
-- (core.records.keys.Keys.layout): for each kind of key, the text before and after its variable part.
local L = cjson.decode(ARGV[1])
local function name(kind, x) return L[kind][1] .. x .. L[kind][2] end
