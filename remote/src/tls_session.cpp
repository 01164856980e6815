// Derived from CAF 0.17.6 (the C++ Actor Framework), libcaf_openssl/src/openssl/
// session.cpp; cellhub changed it as its comments say, which carry this notice:
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

#include "tls_session.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <pthread.h>

namespace cellhub::remote {
namespace {

// OpenSSL writes with write(2), which raises SIGPIPE on a connection the peer has
// closed: the signal is blocked around every OpenSSL call, and one raised
// meanwhile is taken back before the old mask returns (as CAF does on Linux).
class sigpipe_blocker {
public:
  sigpipe_blocker() noexcept {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~sigpipe_blocker() {
    timespec zero{};
    sigtimedwait(&pipe_, nullptr, &zero);
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  sigpipe_blocker(const sigpipe_blocker&) = delete;
  sigpipe_blocker& operator=(const sigpipe_blocker&) = delete;

private:
  sigset_t pipe_{};
  sigset_t saved_{};
};

int clamp_length(std::size_t len) {
  return static_cast<int>(std::min<std::size_t>(len, INT_MAX));
}

} // namespace

std::unique_ptr<tls_session> tls_session::make(SSL_CTX* ctx, int fd, tls_role role) {
  sigpipe_blocker blocked;
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr)
    return nullptr;
  std::unique_ptr<tls_session> session{new tls_session{ssl, role}};
  if (SSL_set_fd(ssl, fd) != 1)
    return nullptr;
  if (role == tls_role::accept)
    SSL_set_accept_state(ssl);
  else
    SSL_set_connect_state(ssl);
  const int ret = session->handshake_step();
  if (ret == 1) {
    session->handshaking_ = false;
    return session;
  }
  return session->can_go_on(ret) ? std::move(session) : nullptr;
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

tls_session::rw_state tls_session::read_some(std::size_t& result, void* buf, std::size_t len) {
  return do_some(SSL_read, result, buf, len, false);
}

tls_session::rw_state tls_session::write_some(std::size_t& result, const void* buf,
                                              std::size_t len) {
  auto write = [](SSL* ssl, void* data, int size) { return SSL_write(ssl, data, size); };
  return do_some(write, result, const_cast<void*>(buf), len, true);
}

bool tls_session::must_read_more(std::size_t threshold) const {
  return static_cast<std::size_t>(SSL_pending(ssl_)) >= threshold;
}

// Runs SSL_accept or SSL_connect once, remembering whether it waits to write.
int tls_session::handshake_step() {
  // SSL_get_error reads this thread's error queue: it must hold nothing older.
  ERR_clear_error();
  const int ret = role_ == tls_role::accept ? SSL_accept(ssl_) : SSL_connect(ssl_);
  wants_write_ = ret != 1 && SSL_get_error(ssl_, ret) == SSL_ERROR_WANT_WRITE;
  return ret;
}

// Tells whether a call that returned `ret` only waits for the socket.
bool tls_session::can_go_on(int ret) const {
  switch (SSL_get_error(ssl_, ret)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return true;
  default: // a closed connection, a TLS error, a certificate refused
    ERR_clear_error();
    return false;
  }
}

tls_session::rw_state tls_session::do_some(int (*f)(SSL*, void*, int), std::size_t& result,
                                           void* buf, std::size_t len, bool writing) {
  sigpipe_blocker blocked;
  result = 0;
  if (handshaking_) {
    const int ret = handshake_step();
    if (ret != 1) {
      switch (SSL_get_error(ssl_, ret)) {
      case SSL_ERROR_WANT_READ:
        // An empty write that only drove the handshake: nothing left to write
        // until the peer speaks.
        return len == 0 && writing ? rw_state::indeterminate : rw_state::success;
      case SSL_ERROR_WANT_WRITE:
        return rw_state::success;
      default:
        ERR_clear_error();
        return rw_state::failure;
      }
    }
    handshaking_ = false;
  }
  if (len == 0)
    return rw_state::indeterminate;
  ERR_clear_error();
  const int ret = f(ssl_, buf, clamp_length(len));
  if (ret > 0) {
    result = static_cast<std::size_t>(ret);
    return rw_state::success;
  }
  return can_go_on(ret) ? rw_state::success : rw_state::failure;
}

} // namespace cellhub::remote
