#include "fleet/fleet_sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "fleet/scripts.h"
#include "obs/secrets.h"

namespace fleet {

using accounts::Account;
using accounts::AccountKind;
using accounts::LeaseAnswer;
using std::chrono::milliseconds;

namespace {

// The access token's fields: written only by the lease's commit, by an account's first write,
// or when this instance holds a token that expires clearly later than the fleet's (one exchanged
// while Redis was away).
bool isTokenField(std::string_view f) {
  return f == "access_token" || f == "access_expiry" || f == "access_issued";
}
constexpr int64_t kTokenSlackMs = 5000;

int64_t unixMillis(accounts::TimePoint t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
accounts::TimePoint fromMillis(int64_t ms) { return accounts::TimePoint(milliseconds(ms)); }

std::string optionalText(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}
std::optional<int64_t> optionalNumber(const Fields& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? std::nullopt : store::parseInteger(it->second);
}
std::string text(const Fields& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? std::string() : it->second;
}

Fields fromArray(const store::RedisReply& reply) {
  Fields out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2)
    out[reply.elements[i].str] = reply.elements[i + 1].str;
  return out;
}

}  // namespace

Fields fieldsOf(const Account& account) {
  const store::StoredAccount row = accounts::toStored(account);
  Fields f;
  f["kind"] = row.kind;
  f["api_key"] = row.apiKey;
  f["refresh_token"] = row.refreshToken;
  f["hash"] = row.originalTokenHash;
  f["state"] = row.state;
  f["cooldown_until"] = optionalText(row.cooldownUntil);
  f["last_error"] = row.lastError;
  f["created_at"] = std::to_string(row.createdAt);
  f["models"] = row.models;
  f["default_model"] = row.defaultModel;
  f["base_url"] = row.baseUrl;
  f["quota_limit"] = optionalText(row.quotaLimit);
  f["quota_remaining"] = optionalText(row.quotaRemaining);
  f["quota_reset"] = optionalText(row.quotaReset);
  if (account.kind == AccountKind::kChats && !account.accessToken.empty() && account.accessExpiry) {
    f["access_token"] = account.accessToken;
    f["access_expiry"] = std::to_string(unixMillis(*account.accessExpiry));
    f["access_issued"] =
        account.accessIssued ? std::to_string(unixMillis(*account.accessIssued)) : "";
  }
  return f;
}

Account accountFrom(int64_t id, const Fields& f) {
  store::StoredAccount row;
  row.id = id;
  row.kind = text(f, "kind");
  row.apiKey = text(f, "api_key");
  row.refreshToken = text(f, "refresh_token");
  row.originalTokenHash = text(f, "hash");
  row.state = text(f, "state");
  row.cooldownUntil = optionalNumber(f, "cooldown_until");
  row.lastError = text(f, "last_error");
  row.createdAt = optionalNumber(f, "created_at").value_or(0);
  row.models = text(f, "models");
  row.defaultModel = text(f, "default_model");
  row.baseUrl = text(f, "base_url");
  row.quotaLimit = optionalNumber(f, "quota_limit");
  row.quotaRemaining = optionalNumber(f, "quota_remaining");
  row.quotaReset = optionalNumber(f, "quota_reset");
  Account a = accounts::fromStored(row);
  a.requests = 0;
  a.failures = 0;
  if (a.kind == AccountKind::kCommand) {
    // get-things answered on some instance: the key serves.
    if (!a.info.models.empty()) a.accessToken = a.refreshToken;
  } else if (auto expiry = optionalNumber(f, "access_expiry");
             expiry && !text(f, "access_token").empty()) {
    a.accessToken = text(f, "access_token");
    a.accessExpiry = fromMillis(*expiry);
    if (auto issued = optionalNumber(f, "access_issued")) a.accessIssued = fromMillis(*issued);
  }
  return a;
}

class Timers {
 public:
  explicit Timers(boost::asio::io_context& io) : flush(io), renew(io) {}
  boost::asio::steady_timer flush;
  boost::asio::steady_timer renew;
  bool renewing = false;
};

namespace {

store::RedisOptions connectionOptions(const config::RedisTarget& target, const char* name) {
  store::RedisOptions o;
  o.target = target;
  o.name = name;
  return o;
}

}  // namespace

FleetSync::FleetSync(boost::asio::io_context& control, accounts::AccountPool& pool,
                     accounts::Persister& persister, FleetOptions options)
    : control_(control),
      pool_(pool),
      persister_(persister),
      options_(std::move(options)),
      commands_(control, connectionOptions(options_.target, "commands")),
      events_(control, connectionOptions(options_.target, "events")),
      timers_(std::make_unique<Timers>(control)) {
  pool_.setObserver(this);
}

FleetSync::~FleetSync() { pool_.setObserver(&persister_); }

void FleetSync::start(std::function<void(int64_t id)> onNewAccount) {
  onNewAccount_ = std::move(onNewAccount);
  auto up = [this] { connectionUp(); };
  auto down = [this](const std::string& reason) { connectionDown(reason); };
  commands_.onUp(up);
  commands_.onDown(down);
  events_.onUp(up);
  events_.onDown(down);
  events_.subscribe(std::string(kEventsChannel),
                    [this](std::string_view message) { onMessage(message); });
  commands_.start();
  events_.start();
}

bool FleetSync::waitForFirstSync(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(firstMutex_);
  return firstDone_.wait_until(lock, deadline, [this] { return firstFinished_; });
}

void FleetSync::reportUnreachableAtStart() {
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(control_, [this, alive] {
    if (alive.expired() || up_.load(std::memory_order_acquire) || downLogged_) return;
    downLogged_ = true;
    outages_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn(
        "redis unreachable at start: serving with this instance's copy of the accounts; the "
        "rate limit counts on this instance alone until it is reachable");
  });
}

std::string FleetSync::message(std::string_view op, int64_t id) const {
  return options_.instance + " " + std::string(op) + " " + std::to_string(id);
}

void FleetSync::connectionUp() {
  // Both connections are needed: announcements must not be missed while catching up.
  if (commands_.up() && events_.up()) catchUp();
}

void FleetSync::connectionDown(const std::string& reason) {
  const bool wasUp = up_.exchange(false, std::memory_order_acq_rel);
  if (!wasUp && downLogged_) return;
  if (!downLogged_) {
    downLogged_ = true;
    outages_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn(
        "redis unreachable ({}): serving with the last known accounts; the rate limit counts "
        "on this instance alone until it is back",
        reason);
  }
}

void FleetSync::catchUp() {
  if (catchingUp_) {
    catchUpAgain_ = true;
    return;
  }
  catchingUp_ = true;
  catchUpAgain_ = false;
  std::weak_ptr<int> alive = alive_;
  auto finish = [this, alive](bool ok) {
    if (alive.expired()) return;
    catchingUp_ = false;
    if (ok && commands_.up() && events_.up()) {
      up_.store(true, std::memory_order_release);
      if (downLogged_) {
        downLogged_ = false;
        spdlog::info("redis reachable again: caught up with the fleet ({} accounts)",
                     pool_.ids().size());
      }
      {
        std::lock_guard lock(firstMutex_);
        firstFinished_ = true;
      }
      firstDone_.notify_all();
      // Changes made while catching up go out now.
      scheduleFlush();
    }
    if (catchUpAgain_ && commands_.up() && events_.up()) catchUp();
  };
  sendRemovals();
  registerAll([this, alive, finish](bool ok) {
    if (alive.expired()) return;
    if (!ok) return finish(false);
    flush();  // this instance's changes made while away, before reading the fleet's
    loadAll(finish);
  });
}

void FleetSync::registerAll(std::function<void(bool)> next) {
  std::vector<int64_t> ids;
  std::vector<std::string> args{"0"};
  for (int64_t id : pool_.ids()) {
    auto account = pool_.find(id);
    if (!account || account->originalTokenHash.empty()) continue;
    ids.push_back(id);
    args.push_back(account->originalTokenHash);
    args.push_back(std::to_string(id));
  }
  if (ids.empty()) return next(true);
  std::weak_ptr<int> alive = alive_;
  kRegister.run(commands_,
                {std::string(kIdsHash), std::string(kTombstones), std::string(kNextId),
                 std::string(kAccountsSet)},
                std::move(args), [this, alive, ids, next](std::optional<store::RedisReply> reply) {
                  if (alive.expired()) return;
                  if (!reply || reply->type != store::RedisReply::Type::kArray ||
                      reply->elements.size() != ids.size()) {
                    if (reply && reply->isError())
                      spdlog::error("redis: registering accounts: {}", reply->str);
                    return next(false);
                  }
                  std::map<int64_t, int64_t> renumber;
                  std::vector<int64_t> fresh;
                  for (size_t i = 0; i < ids.size(); ++i) {
                    const int64_t answer = reply->elements[i].integer;
                    const int64_t fleetId = answer < 0 ? -answer : answer;
                    if (answer < 0) fresh.push_back(fleetId);
                    if (fleetId != ids[i]) renumber[ids[i]] = fleetId;  // 0: an admin deleted it
                  }
                  if (!renumber.empty()) {
                    for (const auto& [from, to] : renumber) {
                      synced_.erase(from);
                      if (to == 0) spdlog::info("account {} was deleted on another instance", from);
                    }
                    pool_.reassign(renumber);
                    if (auto status = persister_.mirrorAll(); !status.ok())
                      spdlog::error("{}", status.message());
                  }
                  for (int64_t id : fresh) {
                    synced_[id].clear();
                    {
                      std::lock_guard lock(mutex_);
                      dirty_.insert(id);
                    }
                  }
                  // Accounts under a new id need their own refresh schedule (harmless before the
                  // token refresher's start, which joins an exchange under way).
                  if (onNewAccount_)
                    for (const auto& [from, to] : renumber)
                      if (to != 0) onNewAccount_(to);
                  next(true);
                });
}

void FleetSync::loadAll(std::function<void(bool)> next) {
  std::weak_ptr<int> alive = alive_;
  kLoad.run(commands_, {std::string(kAccountsSet)}, {std::string(kAccountPrefix)},
            [this, alive, next](std::optional<store::RedisReply> reply) {
              if (alive.expired()) return;
              if (!reply || reply->type != store::RedisReply::Type::kArray) {
                if (reply && reply->isError())
                  spdlog::error("redis: loading accounts: {}", reply->str);
                return next(false);
              }
              std::set<int64_t> present;
              for (const auto& entry : reply->elements) {
                if (entry.elements.size() != 2) continue;
                const int64_t id = entry.elements[0].asInteger(0);
                if (id <= 0) continue;
                present.insert(id);
                applyFields(id, fromArray(entry.elements[1]));
              }
              // Accounts the fleet no longer holds were deleted while this instance was away.
              for (int64_t id : pool_.ids()) {
                if (present.count(id)) continue;
                {
                  std::lock_guard lock(mutex_);
                  removedByFleet_.insert(id);
                }
                synced_.erase(id);
                pool_.remove(id);
              }
              next(true);
            });
}

void FleetSync::applyFields(int64_t id, const Fields& fields) {
  // An account another instance is still writing (registered, fields not yet there) waits for
  // its announcement.
  if (text(fields, "refresh_token").empty()) return;
  const auto local = pool_.find(id);
  Fields merged = fields;
  auto seen = synced_.find(id);
  if (local && seen != synced_.end()) {
    // A field changed here and not yet written keeps this instance's value (it is on its way).
    for (const auto& [name, value] : fieldsOf(*local)) {
      if (isTokenField(name)) continue;
      auto before = seen->second.find(name);
      if (before != seen->second.end() && before->second != value) merged[name] = value;
    }
  }
  synced_[id] = fields;
  Account shared = accountFrom(id, merged);
  pool_.applyShared(shared);
  if (!local && onNewAccount_) onNewAccount_(id);
}

void FleetSync::accountChanged(int64_t id) {
  persister_.accountChanged(id);
  {
    std::lock_guard lock(mutex_);
    dirty_.insert(id);
  }
  scheduleFlush();
}

void FleetSync::accountRemoved(int64_t id, const std::string& originalTokenHash) {
  persister_.accountRemoved(id, originalTokenHash);
  {
    std::lock_guard lock(mutex_);
    dirty_.erase(id);
    if (removedByFleet_.erase(id)) return;
    removals_.push_back({id, originalTokenHash});
  }
  scheduleFlush();
}

void FleetSync::scheduleFlush() {
  {
    std::lock_guard lock(mutex_);
    if (flushScheduled_) return;
    flushScheduled_ = true;
  }
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(control_, [this, alive] {
    if (alive.expired()) return;
    timers_->flush.expires_after(options_.flushDelay);
    timers_->flush.async_wait([this, alive](const boost::system::error_code& ec) {
      if (ec || alive.expired()) return;
      {
        std::lock_guard lock(mutex_);
        flushScheduled_ = false;
      }
      // Until caught up, changes wait (the catch-up writes them first).
      if (!up_.load(std::memory_order_acquire)) return;
      sendRemovals();
      flush();
    });
  });
}

void FleetSync::sendRemovals() {
  std::vector<PendingRemoval> removals;
  {
    std::lock_guard lock(mutex_);
    removals.swap(removals_);
  }
  std::weak_ptr<int> alive = alive_;
  for (auto& r : removals) {
    synced_.erase(r.id);
    kRemove.run(
        commands_,
        {accountKey(r.id), std::string(kAccountsSet), std::string(kTombstones),
         std::string(kIdsHash)},
        {std::to_string(r.id), r.hash, std::string(kEventsChannel), message("removed", r.id)},
        [this, alive, r](std::optional<store::RedisReply> reply) {
          if (alive.expired() || (reply && !reply->isError())) return;
          std::lock_guard lock(mutex_);
          removals_.push_back(r);  // again once Redis is back
        });
  }
}

void FleetSync::flush() {
  std::set<int64_t> dirty;
  {
    std::lock_guard lock(mutex_);
    dirty.swap(dirty_);
  }
  std::weak_ptr<int> alive = alive_;
  for (int64_t id : dirty) {
    auto account = pool_.find(id);
    if (!account) continue;
    auto seenIt = synced_.find(id);
    // An account never read from the fleet is not written over it (the catch-up reads it).
    if (seenIt == synced_.end()) continue;
    Fields& seen = seenIt->second;
    const bool whole = seen.empty();  // registered here just now: every field
    const Fields now = fieldsOf(*account);
    std::vector<std::string> args{std::string(kEventsChannel), message("changed", id)};
    Fields previous;
    auto put = [&](const std::string& name, const std::string& value) {
      auto it = seen.find(name);
      previous[name] = it == seen.end() ? std::string() : it->second;
      args.push_back(name);
      args.push_back(value);
      seen[name] = value;
    };
    for (const auto& [name, value] : now) {
      if (isTokenField(name)) continue;
      auto it = seen.find(name);
      if (whole || it == seen.end() || it->second != value) put(name, value);
    }
    if (auto expiry = now.find("access_expiry"); expiry != now.end()) {
      const int64_t mine = std::stoll(expiry->second);
      auto theirs = seen.find("access_expiry");
      const int64_t fleet =
          theirs == seen.end() || theirs->second.empty() ? 0 : std::stoll(theirs->second);
      if (whole || mine > fleet + kTokenSlackMs)
        for (const char* name : {"access_token", "access_expiry", "access_issued"})
          put(name, now.at(name));
    }
    if (args.size() == 2) continue;
    kUpdate.run(commands_, {accountKey(id)}, std::move(args),
                [this, alive, id, previous](std::optional<store::RedisReply> reply) {
                  if (alive.expired() || (reply && !reply->isError())) return;
                  // Not written: what the fleet holds is as before; try again when back.
                  if (auto it = synced_.find(id); it != synced_.end())
                    for (const auto& [name, value] : previous) it->second[name] = value;
                  std::lock_guard lock(mutex_);
                  dirty_.insert(id);
                });
  }
}

void FleetSync::onMessage(std::string_view text) {
  // "<instance> <op> <id>"
  const size_t a = text.find(' ');
  const size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  if (b == std::string_view::npos) return;
  if (text.substr(0, a) == options_.instance) return;
  const std::string_view op = text.substr(a + 1, b - a - 1);
  const int64_t id = store::parseInteger(text.substr(b + 1)).value_or(0);
  if (id <= 0) return;
  if (op == "removed") {
    if (!pool_.find(id)) return;
    {
      std::lock_guard lock(mutex_);
      removedByFleet_.insert(id);
    }
    synced_.erase(id);
    pool_.remove(id);
    return;
  }
  if (op != "changed") return;
  std::weak_ptr<int> alive = alive_;
  commands_.command({"HGETALL", accountKey(id)},
                    [this, alive, id](std::optional<store::RedisReply> reply) {
                      if (alive.expired() || !reply ||
                          reply->type != store::RedisReply::Type::kArray || reply->elements.empty())
                        return;
                      applyFields(id, fromArray(*reply));
                    });
}

void FleetSync::acquire(int64_t id, const std::string& refused,
                        std::function<void(LeaseAnswer)> done) {
  if (!up_.load(std::memory_order_acquire)) return done(LeaseAnswer{});
  std::weak_ptr<int> alive = alive_;
  kAcquire.run(
      commands_, {accountKey(id), leaseKey(id), fenceKey(id)},
      {options_.instance, std::to_string(options_.leaseTtl.count()), refused,
       std::to_string(options_.youngFraction)},
      [this, alive, id, done](std::optional<store::RedisReply> reply) {
        if (alive.expired()) return;
        LeaseAnswer answer;  // kNoFleet
        if (!reply || reply->type != store::RedisReply::Type::kArray || reply->elements.empty())
          return done(answer);
        const auto& e = reply->elements;
        const std::string& kind = e[0].str;
        if (kind == "adopt" && e.size() == 5) {
          answer.kind = LeaseAnswer::Kind::kAdopt;
          answer.accessToken = e[1].str;
          answer.issued = fromMillis(e[2].asInteger());
          answer.expiry = fromMillis(e[3].asInteger());
          answer.refreshToken = e[4].str;
        } else if (kind == "busy" && e.size() == 2) {
          answer.kind = LeaseAnswer::Kind::kBusy;
          answer.retryIn =
              std::clamp(milliseconds(e[1].asInteger(500)), milliseconds(50), milliseconds(500));
        } else if (kind == "granted" && e.size() == 3) {
          answer.kind = LeaseAnswer::Kind::kGranted;
          answer.fence = static_cast<uint64_t>(e[1].asInteger());
          answer.refreshToken = e[2].str;
          leases_[id] = options_.instance + ":" + std::to_string(answer.fence);
          renewLeases();
        }
        done(answer);
      });
}

void FleetSync::renewLeases() {
  if (timers_->renewing || leases_.empty()) return;
  timers_->renewing = true;
  std::weak_ptr<int> alive = alive_;
  timers_->renew.expires_after(options_.leaseRenew);
  timers_->renew.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    timers_->renewing = false;
    for (const auto& [id, value] : leases_)
      kRenew.run(commands_, {leaseKey(id)}, {value, std::to_string(options_.leaseTtl.count())},
                 [](std::optional<store::RedisReply>) {});
    renewLeases();
  });
}

void FleetSync::commit(int64_t id, uint64_t fence, const std::string& accessToken,
                       milliseconds expiresIn, const std::string& refreshToken) {
  auto held = leases_.find(id);
  const std::string value = held == leases_.end() ? std::string() : held->second;
  if (held != leases_.end()) leases_.erase(held);
  // What the fleet will hold, so this instance does not write the same tokens again.
  if (auto seen = synced_.find(id); seen != synced_.end()) {
    const int64_t now = unixMillis(accounts::Clock::now());
    if (!refreshToken.empty()) seen->second["refresh_token"] = refreshToken;
    seen->second["access_token"] = accessToken;
    seen->second["access_issued"] = std::to_string(now);
    seen->second["access_expiry"] = std::to_string(now + expiresIn.count() + kTokenSlackMs);
  }
  std::weak_ptr<int> alive = alive_;
  kCommit.run(
      commands_, {accountKey(id), fenceKey(id), leaseKey(id)},
      {std::to_string(fence), accessToken, std::to_string(expiresIn.count()), refreshToken, value,
       std::string(kEventsChannel), message("changed", id)},
      [this, alive, id](std::optional<store::RedisReply> reply) {
        if (alive.expired()) return;
        if (reply && reply->type == store::RedisReply::Type::kInteger && reply->integer == 0)
          spdlog::warn(
              "account {}: a newer token exchange was leased meanwhile; this "
              "instance's tokens were not stored",
              id);
      });
}

void FleetSync::release(int64_t id, uint64_t fence) {
  auto held = leases_.find(id);
  if (held == leases_.end()) return;
  const std::string value = held->second;
  leases_.erase(held);
  kRelease.run(commands_, {leaseKey(id)}, {value}, [](std::optional<store::RedisReply>) {});
}

void FleetSync::allocateId(
    const std::string& originalTokenHash,
    std::function<void(std::optional<int64_t>, accounts::AddError, std::string)> done) {
  if (!up_.load(std::memory_order_acquire))
    return done(std::nullopt, accounts::AddError::kUnavailable,
                "the fleet's store (Redis) is unreachable: add the account when it is back");
  std::weak_ptr<int> alive = alive_;
  kRegister.run(
      commands_,
      {std::string(kIdsHash), std::string(kTombstones), std::string(kNextId),
       std::string(kAccountsSet)},
      {"1", originalTokenHash, "0"}, [this, alive, done](std::optional<store::RedisReply> reply) {
        if (alive.expired()) return;
        if (!reply || reply->type != store::RedisReply::Type::kArray || reply->elements.size() != 1)
          return done(std::nullopt, accounts::AddError::kUnavailable,
                      "the fleet's store (Redis) did not answer: try again");
        const int64_t answer = reply->elements[0].integer;
        if (answer > 0)
          return done(std::nullopt, accounts::AddError::kDuplicate,
                      "the account is already in the pool (id " + std::to_string(answer) + ")");
        synced_[-answer].clear();  // written whole with its first change
        done(-answer, accounts::AddError::kNone, {});
      });
}

}  // namespace fleet
