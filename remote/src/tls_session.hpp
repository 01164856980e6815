#pragma once

// Derived from CAF 0.17.6 (the C++ Actor Framework), libcaf_openssl/src/openssl/
// session.{hpp,cpp}; cellhub changed it as its comments say, which carry this notice:
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

#include <caf/io/network/rw_state.hpp>
#include <openssl/ssl.h>

#include <cstddef>
#include <memory>

namespace cellhub::remote {

/// Names which end of a connection a TLS session is.
enum class tls_role : unsigned char {
  /// Accepted the connection: runs the server side of the handshake.
  accept,
  /// Opened the connection: runs the client side of the handshake.
  connect,
};

/// Runs TLS on one connected, non-blocking socket for CAF's stream: the handshake
/// first, then reads and writes, with CAF's `rw_state` results. CAF's own session
/// builds an OpenSSL context, reading the credentials files, for every connection;
/// this one shares a context loaded once (`tls_credentials::ssl_context`), so a
/// connection opens no file and throws nothing.
class tls_session {
public:
  using rw_state = caf::io::network::rw_state;

  /// Creates the session of `fd` on `ctx` and takes the handshake's first step;
  /// returns nullptr when OpenSSL fails or that step does (the peer has already
  /// closed the connection or sent what is not TLS).
  static std::unique_ptr<tls_session> make(SSL_CTX* ctx, int fd, tls_role role);

  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  /// Advances the handshake, then reads up to `len` bytes into `buf`.
  rw_state read_some(std::size_t& result, void* buf, std::size_t len);

  /// Advances the handshake, then writes up to `len` bytes of `buf`; with
  /// `len == 0` (CAF's "empty write" that drives the handshake), reports
  /// `indeterminate` once it has nothing to wait for but the peer.
  rw_state write_some(std::size_t& result, const void* buf, std::size_t len);

  /// Tells whether OpenSSL holds at least `threshold` decrypted bytes.
  [[nodiscard]] bool must_read_more(std::size_t threshold) const;

  /// Tells whether the handshake has not ended yet.
  [[nodiscard]] bool handshaking() const noexcept { return handshaking_; }

  /// Tells whether the handshake's last step stopped because the socket could
  /// not take all it had to send (it then needs a write event to go on).
  [[nodiscard]] bool handshake_wants_write() const noexcept { return wants_write_; }

private:
  tls_session(SSL* ssl, tls_role role) noexcept
      : ssl_{ssl}
      , role_{role} {}

  rw_state do_some(int (*f)(SSL*, void*, int), std::size_t& result, void* buf, std::size_t len,
                   bool writing);
  int handshake_step();
  bool can_go_on(int ret) const;

  SSL* ssl_;
  tls_role role_;
  bool handshaking_ = true;
  bool wants_write_ = false;
};

} // namespace cellhub::remote
