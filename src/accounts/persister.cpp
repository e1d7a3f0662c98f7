#include "accounts/persister.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

namespace accounts {

Persister::Persister(boost::asio::io_context& control, AccountPool& pool,
                     store::AccountStore* store, std::chrono::milliseconds interval)
    : control_(control), pool_(pool), store_(store), interval_(interval), timer_(control) {
  pool_.setObserver(this);
}

Persister::~Persister() { pool_.setObserver(nullptr); }

void Persister::accountChanged(int64_t id) {
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    dirty_.insert(id);
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) {
    schedule();
  }
}

void Persister::accountRemoved(int64_t id, const std::string& originalTokenHash) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    dirty_.erase(id);
    removals_.push_back({id, originalTokenHash, now});
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) {
    schedule();
  }
}

void Persister::schedule() {
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(control_, [this, alive] {
    if (alive.expired()) {
      return;
    }
    timer_.expires_after(interval_);
    timer_.async_wait([this, alive](const boost::system::error_code& ec) {
      if (ec || alive.expired()) {
        return;
      }
      flush();
    });
  });
}

store::Status Persister::mirrorAll() {
  {
    std::lock_guard lock(mutex_);
    dirty_.clear();
    removals_.clear();
  }
  if (store_ == nullptr) return {};
  store::WriteBatch batch;
  batch.replaceAll = true;
  for (int64_t id : pool_.ids())
    if (auto row = pool_.snapshot(id)) batch.upserts.push_back(std::move(*row));
  return store_->write(batch);
}

store::Status Persister::insertNow(const Account& account, int64_t* id) {
  if (account.id != 0 && store_ == nullptr) {
    *id = account.id;
    return {};
  }
  if (store_ == nullptr) {
    for (int64_t existing : pool_.ids()) {
      nextMemoryId_ = std::max(nextMemoryId_, existing);
    }
    *id = ++nextMemoryId_;
    return {};
  }
  return store_->insert(toStored(account), id);
}

store::Status Persister::flush() {
  std::set<int64_t> dirty;
  std::vector<store::Removal> removals;
  {
    std::lock_guard lock(mutex_);
    dirty.swap(dirty_);
    removals.swap(removals_);
    scheduled_ = false;
  }
  if (store_ == nullptr || (dirty.empty() && removals.empty())) {
    return {};
  }
  store::WriteBatch batch;
  for (int64_t id : dirty) {
    if (auto row = pool_.snapshot(id)) {
      batch.upserts.push_back(std::move(*row));
    }
  }
  batch.removals = removals;
  store::Status status = store_->write(batch);
  if (status.ok()) {
    ++batches_;
    return status;
  }
  spdlog::error("saving accounts failed, retrying: {}", status.message());
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    dirty_.insert(dirty.begin(), dirty.end());
    removals_.insert(removals_.begin(), removals.begin(), removals.end());
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) {
    schedule();
  }
  return status;
}

}  // namespace accounts
