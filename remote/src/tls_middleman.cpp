// Derived from CAF 0.17.6 (the C++ Actor Framework), libcaf_openssl/src/openssl/
// middleman_actor.cpp and manager.cpp; cellhub changed them as
// their comments say, which carry this notice:
//
//   Copyright 2011-2018 Dominik Charousset
//
//   Redistribution and use in source and binary forms, with or without
//   modification, are permitted provided that the following conditions are met:
//   1. Redistributions of source code must retain the above copyright notice,
//      this list of conditions and the following disclaimer.
//   2. Redistributions in binary form must reproduce the above copyright notice,
//      this list of conditions and the following disclaimer in the documentation
//      and/or other materials provided with the distribution.
//   3. Neither the name of the copyright holder nor the names of its contributors
//      may be used to endorse or promote products derived from this software
//      without specific prior written permission.
//
//   THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
//   AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
//   IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
//   ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
//   LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
//   CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
//   SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
//   INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
//   CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
//   ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
//   POSSIBILITY OF SUCH DAMAGE.
//

#include "tls_middleman.hpp"

#include "cellhub/remote/handshake_guard.hpp"
#include "tls_session.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/socket_guard.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/doorman_impl.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/io/scribe.hpp>
#include <caf/raise_error.hpp>
#include <caf/scoped_actor.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace cellhub::remote {
namespace {

namespace io = caf::io;
namespace net = caf::io::network;
using default_mpx = net::default_multiplexer;
using native_socket = net::native_socket;
using rw_state = net::rw_state;

// What every connection of one actor system shares: the OpenSSL context (held by
// the credentials, loaded once) and the guard of the handshakes.
struct tls_link_state {
  tls_credentials credentials;
  std::shared_ptr<handshake_guard> guard;

  SSL_CTX* context() const noexcept { return credentials.ssl_context(); }
};

using state_ptr = std::shared_ptr<const tls_link_state>;

class tls_scribe;

// Lets CAF's stream read and write through the scribe's TLS session (CAF's
// ssl_policy, minus the accept it never used).
class tls_policy {
public:
  explicit tls_policy(tls_scribe* owner) noexcept
      : owner_{owner} {}
  rw_state read_some(std::size_t& result, native_socket, void* buf, std::size_t len);
  rw_state write_some(std::size_t& result, native_socket, const void* buf, std::size_t len);
  bool must_read_more(native_socket, std::size_t threshold);

private:
  tls_scribe* owner_;
};

// One TLS connection, as the BASP broker sees it (CAF's openssl scribe_impl).
// Two changes. The connection's handshake is watched by the guard from the
// scribe's construction to the handshake's end. And what the broker writes
// before the handshake has ended waits in `held_`, outside the stream: CAF's
// stream polls for writing while it holds bytes, and the handshake, waiting to
// read, wrote none of them, so one silent client kept CAF's I/O thread spinning
// (and a stop waiting) until it went away.
class tls_scribe final : public io::scribe {
public:
  tls_scribe(default_mpx& mpx, native_socket fd, std::unique_ptr<tls_session> session,
             std::shared_ptr<handshake_guard> guard, tls_role role)
      : io::scribe(net::conn_hdl_from_socket(fd))
      , session_{std::move(session)}
      , guard_{std::move(guard)}
      , stream_{mpx, fd, this} {
    // Last, so that nothing is watched when a constructor above throws.
    if (session_->handshaking())
      ticket_ = role == tls_role::accept ? guard_->admit(fd) : guard_->watch(fd);
  }

  ~tls_scribe() override {
    // Before the stream's destructor closes the fd (members end after this body):
    // the guard must never shut down a number the fd table has reused.
    guard_->release(ticket_);
  }

  tls_scribe(const tls_scribe&) = delete;
  tls_scribe& operator=(const tls_scribe&) = delete;

  void configure_read(io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_)
      launch();
  }

  void ack_writes(bool enable) override { stream_.ack_writes(enable); }

  std::vector<char>& wr_buf() override {
    return session_->handshaking() ? held_ : stream_.wr_buf();
  }

  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }

  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }

  void flush() override {
    if (!session_->handshaking())
      stream_.flush(this);
  }

  std::string addr() const override {
    auto x = net::remote_addr_of_fd(stream_.fd());
    return x ? std::move(*x) : std::string{};
  }

  std::uint16_t port() const override {
    auto x = net::remote_port_of_fd(stream_.fd());
    return x ? *x : std::uint16_t{0};
  }

  void add_to_loop() override { stream_.activate(this); }

  void remove_from_loop() override { stream_.passivate(); }

  rw_state read_some(std::size_t& result, void* buf, std::size_t len) {
    const bool was_handshaking = session_->handshaking();
    const auto state = session_->read_some(result, buf, len);
    if (was_handshaking)
      after_handshake_step(state);
    return state;
  }

  rw_state write_some(std::size_t& result, const void* buf, std::size_t len) {
    const bool was_handshaking = session_->handshaking();
    const auto state = session_->write_some(result, buf, len);
    if (was_handshaking)
      after_handshake_step(state);
    return state;
  }

  bool must_read_more(std::size_t threshold) const { return session_->must_read_more(threshold); }

private:
  void launch() {
    launched_ = true;
    stream_.start(this);
    // A write event drives the handshake in case its first step could not send
    // everything (CAF does the same); the stream holds no bytes yet.
    stream_.force_empty_write(this);
  }

  // Runs after every read or write the handshake took part in.
  void after_handshake_step(rw_state state) {
    if (session_->handshaking()) {
      // Reading, the handshake found the socket full: go on when it has room.
      if (state == rw_state::success && session_->handshake_wants_write())
        stream_.force_empty_write(this);
      return;
    }
    guard_->release(ticket_);
    if (held_.empty())
      return;
    // Into the stream before anything the broker writes from now on. If the
    // stream is in a write event now, flush() waits and that event's end takes
    // the bytes.
    auto& out = stream_.wr_buf();
    out.insert(out.end(), held_.begin(), held_.end());
    std::vector<char>{}.swap(held_);
    stream_.flush(this);
  }

  bool launched_ = false;
  std::unique_ptr<tls_session> session_;
  std::shared_ptr<handshake_guard> guard_;
  handshake_guard::ticket ticket_ = 0; // 0: none
  std::vector<char> held_;
  net::stream_impl<tls_policy> stream_;
};

rw_state tls_policy::read_some(std::size_t& result, native_socket, void* buf, std::size_t len) {
  return owner_->read_some(result, buf, len);
}

rw_state tls_policy::write_some(std::size_t& result, native_socket, const void* buf,
                                std::size_t len) {
  return owner_->write_some(result, buf, len);
}

bool tls_policy::must_read_more(native_socket, std::size_t threshold) {
  return owner_->must_read_more(threshold);
}

// Accepts connections and gives each a TLS scribe (CAF's openssl doorman_impl).
class tls_doorman final : public net::doorman_impl {
public:
  tls_doorman(default_mpx& mpx, native_socket fd, state_ptr state)
      : net::doorman_impl(mpx, fd)
      , state_{std::move(state)} {}

  bool new_connection() override {
    // Detached from its broker while the multiplexer still holds the socket.
    if (detached())
      return false;
    auto& mpx = acceptor_.backend();
    const auto fd = acceptor_.accepted_socket();
    caf::detail::socket_guard closer{fd};
    net::nonblocking(fd, true);
    auto session = tls_session::make(state_->context(), fd, tls_role::accept);
    if (!session)
      return false; // the closer closes the connection
    // Admits the connection to the guard, which may end the oldest handshake.
    auto scribe =
        caf::make_counted<tls_scribe>(mpx, fd, std::move(session), state_->guard, tls_role::accept);
    closer.release(); // the scribe's stream owns the fd now
    const auto hdl = scribe->hdl();
    parent()->add_scribe(std::move(scribe));
    return doorman::new_connection(&mpx, hdl);
  }

private:
  state_ptr state_;
};

// The middleman actor of the TLS module (CAF's openssl middleman_actor_impl):
// CAF's own, but it opens TLS doormen and TLS connections.
class tls_middleman_actor final : public io::middleman_actor_impl {
public:
  tls_middleman_actor(caf::actor_config& cfg, caf::actor default_broker, state_ptr state)
      : io::middleman_actor_impl(cfg, std::move(default_broker))
      , state_{std::move(state)} {}

  const char* name() const override { return "cellhub::remote::tls_middleman_actor"; }

protected:
  caf::expected<io::scribe_ptr> connect(const std::string& host, std::uint16_t port) override {
    auto fd = net::new_tcp_connection(host, port);
    if (!fd)
      return std::move(fd.error());
    // CAF's version leaked the socket when the session could not start.
    caf::detail::socket_guard closer{*fd};
    net::nonblocking(*fd, true);
    auto session = tls_session::make(state_->context(), *fd, tls_role::connect);
    if (!session)
      return caf::make_error(caf::sec::cannot_connect_to_node);
    io::scribe_ptr scribe = caf::make_counted<tls_scribe>(mpx(), *fd, std::move(session),
                                                          state_->guard, tls_role::connect);
    closer.release();
    return scribe;
  }

  caf::expected<io::doorman_ptr> open(std::uint16_t port, const char* addr, bool reuse) override {
    auto fd = net::new_tcp_acceptor_impl(port, addr, reuse);
    if (!fd)
      return std::move(fd.error());
    return io::doorman_ptr{caf::make_counted<tls_doorman>(mpx(), *fd, state_)};
  }

private:
  default_mpx& mpx() { return static_cast<default_mpx&>(system().middleman().backend()); }

  state_ptr state_;
};

// Finds each actor system's TLS middleman actor: CAF 0.17 has no way to look a
// module up but its fixed accessors. (Not the actor registry: BASP lets remote
// nodes look up every actor registered by name.)
struct module_table {
  std::mutex mutex;
  std::map<const caf::actor_system*, io::middleman_actor> actors;
};

module_table& modules() {
  static module_table table;
  return table;
}

// The module (CAF's caf::openssl::manager): spawns the middleman actor when the
// actor system starts and ends it before CAF's middleman stops.
class tls_module final : public caf::actor_system::module {
public:
  tls_module(caf::actor_system& sys, state_ptr state)
      : system_{sys}
      , state_{std::move(state)} {}

  void start() override {
    auto& sys = system_;
    auto broker = sys.middleman().named_broker<io::basp_broker>(caf::atom("BASP"));
    actor_ = attach_utility_actors()
                 ? sys.spawn<tls_middleman_actor, caf::hidden>(std::move(broker), state_)
                 : sys.spawn<tls_middleman_actor, caf::detached + caf::hidden>(std::move(broker),
                                                                               state_);
    std::lock_guard lock{modules().mutex};
    modules().actors[&sys] = actor_;
  }

  void stop() override {
    {
      std::lock_guard lock{modules().mutex};
      modules().actors.erase(&system_);
    }
    caf::scoped_actor self{system_, true};
    self->send_exit(actor_, caf::exit_reason::kill);
    if (!attach_utility_actors())
      self->wait_for(actor_);
    actor_ = nullptr;
  }

  void init(caf::actor_system_config&) override {
    // OpenSSL 1.1 and later initialise themselves.
  }

  // CAF 0.17 keeps modules in an array indexed by a fixed id and has no id for
  // modules of its users. The slot of libcaf_net, which CAF 0.17 does not have,
  // is free; the OpenSSL slot is not taken, so that CAF's module can still be
  // loaded beside this one and never be mistaken for it.
  id_t id() const override { return caf::actor_system::module::network_manager; }

  void* subtype_ptr() override { return this; }

private:
  bool attach_utility_actors() const {
    return caf::get_or(system_.config(), "middleman.attach-utility-actors", false);
  }

  caf::actor_system& system_;
  state_ptr state_;
  io::middleman_actor actor_;
};

} // namespace

void load_tls_module(caf::actor_system_config& cfg, const tls_credentials& credentials,
                     const handshake_limits& limits) {
  cfg.module_factories.push_back([credentials,
                                  limits](caf::actor_system& sys) -> caf::actor_system::module* {
    if (!sys.has_middleman() || dynamic_cast<default_mpx*>(&sys.middleman().backend()) == nullptr)
      CAF_RAISE_ERROR("cellhub's TLS module needs CAF's middleman with its default backend");
    auto state = std::make_shared<const tls_link_state>(
        tls_link_state{credentials, std::make_shared<handshake_guard>(limits)});
    return new tls_module(sys, std::move(state));
  });
}

io::middleman_actor tls_middleman(const caf::actor_system& sys) {
  std::lock_guard lock{modules().mutex};
  const auto it = modules().actors.find(&sys);
  return it == modules().actors.end() ? io::middleman_actor{} : it->second;
}

} // namespace cellhub::remote
