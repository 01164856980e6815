#include "cellhub/remote/tls_credentials.hpp"

#include "cellhub/remote/tls_identity.hpp"

#include "openssl_support.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <pwd.h>
#include <random>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace cellhub::remote {

namespace fs = std::filesystem;

struct tls_credentials::state {
  fs::path dir;
  bool generated = false;
  // Sealed memfds holding the checked PEM texts, which OpenSSL read by path.
  std::array<int, 3> fds{-1, -1, -1};
  // The context every link of these credentials uses, loaded from the memfds.
  SSL_CTX* context = nullptr;
  std::string ca_file;
  std::string certificate_file;
  std::string key_file;
  std::string subject;

  state() = default;
  state(const state&) = delete;
  state& operator=(const state&) = delete;
  ~state() {
    SSL_CTX_free(context);
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
};

namespace {

// Credentials files are a few KiB; a larger file is not one of ours.
constexpr off_t max_file_size = 1 << 20;
// The generated CA and certificate stay valid for ten years: a host set up once
// must not lose its control port to an expiry nobody remembers. docs/remote.md
// says how to replace them earlier.
constexpr std::chrono::days generated_validity{3650};

// Owns one fd.
struct fd_owner {
  int fd = -1;
  fd_owner() = default;
  explicit fd_owner(int f) noexcept
      : fd{f} {}
  fd_owner(const fd_owner&) = delete;
  fd_owner& operator=(const fd_owner&) = delete;
  ~fd_owner() {
    if (fd >= 0)
      ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

std::string quote(const fs::path& path) {
  return fmt::format("'{}'", path.string());
}

std::string mode_text(mode_t mode) {
  return fmt::format("{:04o}", mode & 07777);
}

// Names the reasons OpenSSL queued, and empties its queue.
std::string openssl_reasons() {
  auto text = take_openssl_errors();
  return text.empty() ? std::string{"no reason given"} : text;
}

// Checks that `st` (of `path`) belongs to this user and grants group and others none
// of `forbidden`; `what` names the file for the message.
result<void> check_private(const struct stat& st, const fs::path& path, std::string_view what,
                           mode_t forbidden, std::string_view fix_mode) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me)
    return make_error(errc::unsafe_permissions,
                      fmt::format("TLS {} {} belongs to uid {}, not to this user (uid {}); "
                                  "use credentials of your own (docs/remote.md)",
                                  what, quote(path), st.st_uid, me));
  if ((st.st_mode & forbidden) != 0)
    return make_error(errc::unsafe_permissions,
                      fmt::format("TLS {} {} has mode {}: group or others may {} it; "
                                  "run `chmod {} {}` (and replace the credentials if others "
                                  "may have copied them)",
                                  what, quote(path), mode_text(st.st_mode),
                                  (forbidden & 044) != 0 ? "read" : "write", fix_mode,
                                  quote(path)));
  return outcome::success();
}

// Creates `dir` and its missing parents, each 0700 (umask can only narrow it).
result<void> create_private_directories(const fs::path& dir) {
  std::vector<fs::path> missing;
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0)
      break;
    if (errno != ENOENT)
      return make_sys_error(fmt::format("cannot inspect {}", quote(p)), errno);
    missing.push_back(p);
    if (p == p.parent_path())
      break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it)
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST)
      return make_sys_error(fmt::format("cannot create the TLS directory {}", quote(*it)), errno);
  return outcome::success();
}

// Tells whether `name` exists in `dirfd` (a dangling symlink counts: it is not ours
// to replace).
result<bool> exists_in(int dirfd, const fs::path& dir, std::string_view name) {
  struct stat st {};
  if (::fstatat(dirfd, std::string{name}.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    return true;
  if (errno == ENOENT)
    return false;
  return make_sys_error(fmt::format("cannot inspect {}", quote(dir / name)), errno);
}

std::string random_suffix() {
  std::random_device random;
  return fmt::format("{}-{:08x}", ::getpid(), random());
}

// Writes `text` into a new file `name` of `dirfd`, mode 0600, never replacing an
// existing one: the text goes to a temporary name first, and link(2) gives it its
// name only if that name is still free (EEXIST otherwise), so a reader never sees
// a half-written file.
result<void> write_new_file(int dirfd, const fs::path& dir, std::string_view name,
                            const std::string& text) {
  const std::string tmp = fmt::format(".{}.tmp-{}", name, random_suffix());
  fd_owner file{
      ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0)
    return make_sys_error(fmt::format("cannot create {}", quote(dir / tmp)), errno);
  auto fail = [&](std::string what, int err) {
    ::unlinkat(dirfd, tmp.c_str(), 0); // ours: created above with O_EXCL
    return make_sys_error(std::move(what), err);
  };
  if (::fchmod(file.fd, 0600) != 0)
    return fail(fmt::format("cannot set the mode of {}", quote(dir / tmp)), errno);
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(file.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail(fmt::format("cannot write {}", quote(dir / tmp)), n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(file.fd) != 0)
    return fail(fmt::format("cannot write {}", quote(dir / tmp)), errno);
  if (::linkat(dirfd, tmp.c_str(), dirfd, std::string{name}.c_str(), 0) != 0)
    return fail(fmt::format("cannot create {}", quote(dir / name)), errno);
  ::unlinkat(dirfd, tmp.c_str(), 0);
  return outcome::success();
}

std::string user_at_host() {
  std::string user = "uid" + std::to_string(::geteuid());
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr)
    user = pw->pw_name;
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0)
    host[0] = '\0';
  return host[0] != '\0' ? user + "@" + host.data() : user;
}

// Generates a CA and a node certificate and writes the four files into `dirfd`;
// on failure removes the files it created.
result<void> generate_into(int dirfd, const fs::path& dir) {
  const auto who = user_at_host();
  auto ca = tls_identity::make_ca("cellhub CA " + who, generated_validity);
  if (!ca)
    return ca.error();
  auto node = ca.value().issue("cellhub " + who, generated_validity);
  if (!node)
    return node.error();
  // ca.pem comes last: a directory with ca.pem was completely written.
  const std::array<std::pair<std::string_view, const std::string*>, 4> files{{
      {tls_credentials::ca_key_name, &ca.value().key_pem},
      {tls_credentials::key_name, &node.value().key_pem},
      {tls_credentials::certificate_name, &node.value().certificate_pem},
      {tls_credentials::ca_certificate_name, &ca.value().certificate_pem},
  }};
  std::vector<std::string_view> written;
  for (const auto& [name, text] : files) {
    if (auto ok = write_new_file(dirfd, dir, name, *text); !ok) {
      for (auto done : written) // created by us a moment ago under the lock
        ::unlinkat(dirfd, std::string{done}.c_str(), 0);
      return ok.error();
    }
    written.push_back(name);
  }
  if (::fsync(dirfd) != 0)
    return make_sys_error(fmt::format("cannot sync the TLS directory {}", quote(dir)), errno);
  return outcome::success();
}

// Opens `name` in `dirfd`, checks its owner and mode, and returns its text.
result<std::string> read_checked(int dirfd, const fs::path& dir, std::string_view name,
                                 bool is_key) {
  const auto path = dir / name;
  // O_NONBLOCK: a FIFO planted under the name must not block the open.
  fd_owner file{
      ::openat(dirfd, std::string{name}.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0)
    return make_sys_error(fmt::format("cannot open {}", quote(path)), errno);
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    return make_sys_error(fmt::format("cannot inspect {}", quote(path)), errno);
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_credentials,
                      fmt::format("{} is not a regular file", quote(path)));
  // A key must be private; a certificate may be public but not writable by others
  // (whoever can write ca.pem decides whom this node trusts).
  if (auto ok = is_key ? check_private(st, path, "key", 077, "600")
                       : check_private(st, path, "certificate", 022, "644");
      !ok)
    return ok.error();
  if (st.st_size > max_file_size)
    return make_error(errc::invalid_credentials,
                      fmt::format("{} has {} bytes; a PEM credentials file has a few thousand",
                                  quote(path), st.st_size));
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::read(file.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return make_sys_error(fmt::format("cannot read {}", quote(path)), errno);
    if (n == 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

// Freezes `text` in a sealed memfd; returns its fd.
result<int> freeze(std::string_view name, const std::string& text) {
  fd_owner fd{::memfd_create(std::string{name}.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (fd.fd < 0)
    return make_sys_error("cannot create a memfd for the TLS credentials", errno);
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(fd.fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return make_sys_error("cannot fill a memfd for the TLS credentials", n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fcntl(fd.fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return make_sys_error("cannot seal a memfd for the TLS credentials", errno);
  return fd.release();
}

std::string proc_path(int fd) {
  return fmt::format("/proc/self/fd/{}", fd);
}

// Verifies `leaf` (with `chain`) against the CA store for one TLS role.
result<void> verify_role(X509_STORE* store, X509* leaf, STACK_OF(X509) * chain, int purpose,
                         const fs::path& dir, std::string_view role) {
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store, leaf, chain) != 1)
    return make_error(errc::crypto_failure,
                      "cannot set up certificate verification: " + openssl_reasons());
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) != 1)
    return make_error(
        errc::invalid_credentials,
        fmt::format("{} does not verify against {} as a TLS {}: {}",
                    quote(dir / tls_credentials::certificate_name),
                    quote(dir / tls_credentials::ca_certificate_name), role,
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))));
  return outcome::success();
}

// Loads the frozen files into `ctx` exactly as CAF's OpenSSL session did (certificate
// chain, key, CA file), then checks that the key matches and the certificate chains
// to the CA for both ends of a link; returns the certificate's subject.
result<std::string> validate(const fs::path& dir, const std::string& ca_file,
                             const std::string& certificate_file, const std::string& key_file,
                             ssl_ctx_ptr& ctx) {
  ERR_clear_error();
  ctx.reset(SSL_CTX_new(TLS_method()));
  if (!ctx)
    return make_error(errc::crypto_failure,
                      "cannot create an OpenSSL context: " + openssl_reasons());
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate_file.c_str()) != 1)
    return make_error(errc::invalid_credentials,
                      fmt::format("{} is not a usable PEM certificate: {}",
                                  quote(dir / tls_credentials::certificate_name),
                                  openssl_reasons()));
  // The key alone first, so that an unreadable key and a key of another
  // certificate get their own messages.
  bio_ptr key_bio{BIO_new_file(key_file.c_str(), "r")};
  pkey_ptr key{key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr)
                       : nullptr};
  if (!key)
    return make_error(errc::invalid_credentials,
                      fmt::format("{} is not a usable unencrypted PEM key (encrypted keys are "
                                  "not supported; the file's mode protects it): {}",
                                  quote(dir / tls_credentials::key_name), openssl_reasons()));
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    return make_error(
        errc::invalid_credentials,
        fmt::format("{} is not the key of {}: {}", quote(dir / tls_credentials::key_name),
                    quote(dir / tls_credentials::certificate_name), openssl_reasons()));
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
    return make_error(errc::invalid_credentials,
                      fmt::format("{} is not a usable PEM CA certificate: {}",
                                  quote(dir / tls_credentials::ca_certificate_name),
                                  openssl_reasons()));
  X509* leaf = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  if (auto ok = verify_role(store, leaf, chain, X509_PURPOSE_SSL_SERVER, dir, "server"); !ok)
    return ok.error();
  if (auto ok = verify_role(store, leaf, chain, X509_PURPOSE_SSL_CLIENT, dir, "client"); !ok)
    return ok.error();
  bio_ptr text{BIO_new(BIO_s_mem())};
  if (!text || X509_NAME_print_ex(text.get(), X509_get_subject_name(leaf), 0, XN_FLAG_ONELINE) < 0)
    return make_error(errc::crypto_failure, "cannot print the certificate's subject");
  char* data = nullptr;
  const long size = BIO_get_mem_data(text.get(), &data);
  return size > 0 ? std::string{data, static_cast<std::size_t>(size)} : std::string{};
}

// Sets `ctx` up for links as CAF's OpenSSL module did with authentication on (a
// peer certificate required on both ends and verified against the CA, ciphers
// "HIGH:!aNULL:!MD5"), and refuses anything older than TLS 1.2. CAF built a
// context per connection, so no session was ever resumed; with one shared context
// the session cache and tickets are turned off to keep it so: every link runs a
// full handshake with its certificates, and the context keeps nothing per peer.
result<void> prepare_for_links(SSL_CTX* ctx) {
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_num_tickets(ctx, 0) != 1 || SSL_CTX_set_cipher_list(ctx, "HIGH:!aNULL:!MD5") != 1)
    return make_error(errc::crypto_failure,
                      "cannot set up the OpenSSL context for links: " + openssl_reasons());
  return outcome::success();
}

} // namespace

result<fs::path> tls_credentials::default_dir() {
  // XDG: a relative XDG_CONFIG_HOME is invalid and is ignored.
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/')
    return fs::path{xdg} / "cellhub" / "tls";
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
    return fs::path{home} / ".config" / "cellhub" / "tls";
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr)
    return fs::path{pw->pw_dir} / ".config" / "cellhub" / "tls";
  return make_error(errc::missing_credentials,
                    "no home directory to keep TLS credentials in: set HOME, "
                    "XDG_CONFIG_HOME or CELLHUB_TLS_DIR, or pass --tls-dir");
}

result<tls_credentials> tls_credentials::load(const fs::path& dir, on_missing missing) {
  if (dir.empty())
    return make_error(errc::missing_credentials, "the TLS directory is an empty path");
  if (missing == on_missing::generate)
    if (auto ok = create_private_directories(dir); !ok)
      return ok.error();
  fd_owner dirfd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dirfd.fd < 0) {
    if (errno == ENOENT)
      return make_error(errc::missing_credentials,
                        fmt::format("no TLS credentials: {} does not exist (start `cellhub "
                                    "run --listen` once as this user to generate them, or see "
                                    "docs/remote.md)",
                                    quote(dir)));
    return make_sys_error(fmt::format("cannot open the TLS directory {}", quote(dir)), errno);
  }
  struct stat dir_stat {};
  if (::fstat(dirfd.fd, &dir_stat) != 0)
    return make_sys_error(fmt::format("cannot inspect {}", quote(dir)), errno);
  if (auto ok = check_private(dir_stat, dir, "directory", 077, "700"); !ok)
    return ok.error();

  // Readers share the lock; the one that may generate takes it alone, so two
  // processes starting at once produce one CA. A filesystem without flock on
  // directories (some NFS setups) goes on unlocked: link(2) still never replaces
  // a file, so a race there ends in a refusal, never in two CAs.
  const int lock = missing == on_missing::generate ? LOCK_EX : LOCK_SH;
  int locked = -1;
  while ((locked = ::flock(dirfd.fd, lock)) != 0 && errno == EINTR) {
  }
  if (locked != 0 && errno != EBADF && errno != ENOLCK && errno != EOPNOTSUPP && errno != EINVAL)
    return make_sys_error(fmt::format("cannot lock the TLS directory {}", quote(dir)), errno);

  const std::array names{ca_certificate_name, certificate_name, key_name, ca_key_name};
  std::vector<std::string_view> present;
  std::vector<std::string_view> absent;
  for (auto name : names) {
    auto found = exists_in(dirfd.fd, dir, name);
    if (!found)
      return found.error();
    (found.value() ? present : absent).push_back(name);
  }
  auto st = std::make_shared<state>();
  st->dir = dir;
  if (present.empty() && missing == on_missing::generate) {
    if (auto ok = generate_into(dirfd.fd, dir); !ok)
      return ok.error();
    st->generated = true;
  } else if (!absent.empty() && !(absent.size() == 1 && absent[0] == ca_key_name)) {
    auto list = [](const std::vector<std::string_view>& v) {
      return v.empty() ? std::string{"none"} : fmt::format("{}", fmt::join(v, ", "));
    };
    return make_error(
        errc::missing_credentials,
        present.empty()
            ? fmt::format("no TLS credentials in {}: it needs {}, {} and {} (start `cellhub run "
                          "--listen` once as this user to generate them, or see docs/remote.md)",
                          quote(dir), ca_certificate_name, certificate_name, key_name)
            : fmt::format("incomplete TLS credentials in {}: it has {} but lacks {}; nothing "
                          "is overwritten: complete them (docs/remote.md) or move the directory "
                          "away to generate new ones",
                          quote(dir), list(present), list(absent)));
  }

  // The CA key is not needed to run, but where it is, it must be as private as a key.
  if (auto ca_key = exists_in(dirfd.fd, dir, ca_key_name); ca_key && ca_key.value()) {
    struct stat key_stat {};
    if (::fstatat(dirfd.fd, std::string{ca_key_name}.c_str(), &key_stat, 0) != 0)
      return make_sys_error(fmt::format("cannot inspect {}", quote(dir / ca_key_name)), errno);
    if (auto ok = check_private(key_stat, dir / ca_key_name, "CA key", 077, "600"); !ok)
      return ok.error();
  }
  const std::array<std::pair<std::string_view, bool>, 3> files{{
      {ca_certificate_name, false},
      {certificate_name, false},
      {key_name, true},
  }};
  std::array<std::string*, 3> paths{&st->ca_file, &st->certificate_file, &st->key_file};
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto text = read_checked(dirfd.fd, dir, files[i].first, files[i].second);
    if (!text)
      return text.error();
    auto fd = freeze(files[i].first, text.value());
    if (!fd)
      return fd.error();
    st->fds[i] = fd.value();
    *paths[i] = proc_path(fd.value());
  }
  ssl_ctx_ptr context;
  auto subject = validate(dir, st->ca_file, st->certificate_file, st->key_file, context);
  if (!subject)
    return subject.error();
  st->subject = std::move(subject).value();
  if (auto ok = prepare_for_links(context.get()); !ok)
    return ok.error();
  st->context = context.release();
  return tls_credentials{std::move(st)};
}

const fs::path& tls_credentials::dir() const noexcept {
  return state_->dir;
}

bool tls_credentials::generated() const noexcept {
  return state_->generated;
}

const std::string& tls_credentials::ca_file() const noexcept {
  return state_->ca_file;
}

const std::string& tls_credentials::certificate_file() const noexcept {
  return state_->certificate_file;
}

const std::string& tls_credentials::key_file() const noexcept {
  return state_->key_file;
}

const std::string& tls_credentials::subject() const noexcept {
  return state_->subject;
}

SSL_CTX* tls_credentials::ssl_context() const noexcept {
  return state_->context;
}

} // namespace cellhub::remote
