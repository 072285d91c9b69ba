-- Failover (API.md section 11): a primary and a synchronous streaming standby, a store on a
-- multi-host dsn with target_session_attrs=read-write. The primary dies in the middle of a
-- stream of writes, the standby is promoted: calls are UNAVAILABLE for a while, then succeed
-- by themselves on the same store, and every acknowledged write is on the new primary.
-- Runs where PROGALLERY_TEST_DSN is set (PostgreSQL is installed); starts its own servers.
local progallery = require "progallery"
local S = require "spec.support"

local open = S.raw_open or progallery.open
local pg_it = os.getenv("PROGALLERY_TEST_DSN") and it or pending

describe("failover #postgres", function()
  local primary, standby

  teardown(function()
    for _, d in ipairs { primary, standby } do
      if d then S.sh("sh scripts/pg_test_server.sh stop " .. d) end
    end
  end)

  pg_it("a promoted standby takes over: UNAVAILABLE for a while, then every call succeeds, no acknowledged write lost", function()
    primary, standby = S.sh("mktemp -d /tmp/pgf.XXXXXX"), S.sh("mktemp -d /tmp/pgf.XXXXXX")
    local pdsn, ok = S.sh("sh scripts/pg_test_server.sh start " .. primary)
    assert(ok, pdsn)
    local sdsn, ok2 = S.sh("sh scripts/pg_test_server.sh standby " .. primary .. " " .. standby)
    assert(ok2, sdsn)
    local pport, sport = pdsn:match("port=(%d+)"), sdsn:match("port=(%d+)")
    local dsn = ("host=127.0.0.1,127.0.0.1 port=%s,%s user=postgres dbname=progallery_test"
      .. " target_session_attrs=read-write"):format(pport, sport)
    local s = S.ok(open { dsn = dsn, caller = "admin", connectTimeout = 2000 })
    local g = S.ok(s:createGallery {})
    local acked, unavailable, after = {}, 0, 0
    local killed, promoted = false, false
    for i = 1, 2000 do -- bounded: about 20 s of retries at most
      if i == 50 then
        assert(select(2, S.sh("sh scripts/pg_test_server.sh kill " .. primary)))
        killed = true
      end
      local it, msg, code = s:createGalleryItem(g._id, { title = "w" .. i })
      if it then
        acked[#acked + 1] = it._id
        if promoted then after = after + 1 end
      else
        assert.equal("UNAVAILABLE", code, msg)
        assert.is_true(killed, "a failure before the primary died: " .. tostring(msg))
        unavailable = unavailable + 1
        if unavailable == 3 then
          assert(select(2, S.sh("sh scripts/pg_test_server.sh promote " .. standby)))
          promoted = true
        end
        os.execute("sleep 0.01")
      end
      if after >= 20 then break end
    end
    assert.is_true(unavailable >= 1, "the kill went unnoticed")
    assert.equal(20, after, "no write succeeded after the promotion")
    -- every acknowledged write is on the new primary (read through a fresh store too)
    local got = S.ok(s:getGallery(g._id, { itemLimit = 1 }))
    local fresh = S.ok(open { dsn = sdsn, caller = "admin" })
    local total = S.ok(fresh:getGallery(g._id, { itemLimit = 1 })).totalItems
    assert.is_true(total >= #acked, ("%d acknowledged, %d on the new primary"):format(#acked, total))
    assert.equal(got.totalItems, total)
    for _, id in ipairs(acked) do
      S.ok(fresh:getGalleryItem { galleryId = g._id, itemId = id })
    end
    s:close()
    fresh:close()
  end)
end)
