// Leases released on other threads than the one receiving, as the actor layer does (a
// payload travels to whichever actor handles it). Written for the ThreadSanitizer stage
// (docs/testing.md): the host's receive path and the releases share the lease table and
// the return ring, while the cell collects the returned slots on a third thread.

#include "linked_pair.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using cellhub::test::linked_pair;
using namespace std::chrono_literals;

namespace {

/// Hands leases to a worker thread that releases them.
class releaser {
public:
  releaser()
      : worker_{[this] { run(); }} {}
  ~releaser() {
    {
      std::lock_guard guard{mutex_};
      done_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }
  releaser(const releaser&) = delete;
  releaser& operator=(const releaser&) = delete;

  void give(tr::payload_lease lease) {
    {
      std::lock_guard guard{mutex_};
      leases_.push_back(std::move(lease));
    }
    wake_.notify_one();
  }

private:
  void run() {
    std::unique_lock lock{mutex_};
    for (;;) {
      wake_.wait(lock, [this] { return done_ || !leases_.empty(); });
      if (leases_.empty())
        return;
      auto lease = std::move(leases_.front());
      leases_.pop_front();
      lock.unlock();
      lease.release();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<tr::payload_lease> leases_;
  bool done_ = false;
  std::thread worker_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(lease_threads)

BOOST_AUTO_TEST_CASE(leases_released_on_other_threads_each_return_their_slot_once) {
  linked_pair link{{.ring_capacity = 16, .slot_classes = {{1024, 8}}}, "lease-threads"};
  constexpr int messages = 3000;
  // The cell sends as fast as its 8 slots come back, so every slot is returned and reused
  // hundreds of times while the host keeps receiving.
  int sent = 0;
  std::thread cell_thread{[&] {
    const std::vector<std::byte> payload(512, std::byte{0x5a});
    while (sent < messages) {
      auto done = link.cell->send(payload);
      if (done) {
        ++sent;
        continue;
      }
      if (done.error().code != tr::errc::no_slot && done.error().code != tr::errc::ring_full)
        return;
      if (!link.cell->wait_for_space(10s))
        return;
    }
  }};
  int received = 0;
  {
    std::vector<releaser> releasers(3);
    for (; received < messages; ++received) {
      auto msg = link.host->receive(10s);
      if (!msg || !msg.value().payload.in_slot() || msg.value().payload.size() != 512u)
        break;
      releasers[static_cast<std::size_t>(received) % releasers.size()].give(
          std::move(msg.value().payload));
    }
  } // every lease released
  cell_thread.join();
  BOOST_TEST(received == messages);
  BOOST_TEST(sent == messages);
  BOOST_TEST(link.host->slots_leased() == 0u);
  // Every slot came back exactly once: the cell's pool takes them all back without a
  // protocol violation and counts none in flight.
  BOOST_TEST(link.cell->link().slots_in_flight() == 0u);
  auto all = link.cell->prepare(1024);
  BOOST_TEST(all.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
