// Remote control of `cellhub run --listen`, end to end with real processes on
// loopback: mutual TLS with credentials generated on first use, refusals (another
// CA, unsafe files, --insecure off loopback), an unauthenticated 4 GiB BASP header
// that must cost the host nothing, clients that never finish their TLS handshake
// (alone or 300 at once, under a lowered fd limit), and deadlines against servers
// that never speak.
#include "cli_support.hpp"
#include "hub_path.hpp"
#include "loopback.hpp"
#include "scratch_dir.hpp"
#include "tls_dir.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace tr = cellhub::transport;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Hang guard for commands that must end on their own: far above any deadline the
// tests set, far below "forever".
constexpr auto hang_guard = 30s;

using cellhub::test::connect_loopback;
using cellhub::test::free_port;
using cellhub::test::loopback_address;
using cellhub::test::loopback_listener;
using cellhub::test::mode_of;
using cellhub::test::cli::read_text;
using cellhub::test::cli::scratch;
using cellhub::test::cli::wait_for_text;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string cluster_toml(const std::string& hub_path) {
  return "version = 1\n[hub]\npath = \"" + hub_path +
         "\"\nmax_peers = 8\n[supervisor]\nstrategy = \"one_for_one\"\n"
         "max_restarts = 100\nperiod = \"10s\"\n"
         "[[cell]]\nname = \"w1\"\nbinary = \"cellhub-demo-cell\"\nstart_timeout = \"10s\"\n";
}

struct command_result {
  int code = -1;
  std::string output;
  clock_type::duration took{};
};

// Runs a shell command, returns its exit code, everything it printed and how long it took.
command_result run_capture(const std::string& command) {
  command_result result;
  const auto start = clock_type::now();
  std::tie(result.code, result.output) = cellhub::test::cli::run_capture(command);
  result.took = clock_type::now() - start;
  return result;
}

std::string cellhub_cmd(const std::string& args) {
  return std::string{CELLHUB_PATH} + " " + args;
}

// One `cellhub run --listen` host with its output in files of the scratch directory.
struct host {
  tr::process proc;
  fs::path out;
  fs::path err;
  std::string hub_path;
  std::uint16_t port = 0;

  // Starts the host; `extra` are more `run` arguments, `env` more variables; a
  // `fd_limit` above 0 becomes its soft and hard RLIMIT_NOFILE (so that cellhub
  // cannot raise it).
  host(const scratch& tmp, const std::string& name, std::vector<std::string> extra,
       std::vector<std::pair<std::string, std::string>> env = {}, int fd_limit = 0) {
    hub_path = cellhub::test::unique_hub_path(name);
    port = free_port();
    const auto config = tmp.write(name + ".toml", cluster_toml(hub_path));
    out = tmp.dir / (name + ".out");
    err = tmp.dir / (name + ".err");
    // exec: the shell only sets up the redirections, so the pid is cellhub's.
    const std::string limit = fd_limit > 0 ? "ulimit -n " + std::to_string(fd_limit) + "; " : "";
    std::vector<std::string> args{"-c",
                                  limit + "exec \"$0\" \"$@\" >'" + out.string() + "' 2>'" +
                                      err.string() + "'",
                                  CELLHUB_PATH,
                                  "run",
                                  config.string(),
                                  "--plain",
                                  "--listen",
                                  std::to_string(port)};
    args.insert(args.end(), extra.begin(), extra.end());
    auto spawned = tr::process::spawn({.binary = "/bin/sh", .args = args, .env = env});
    BOOST_TEST_REQUIRE(spawned.has_value());
    proc = std::move(spawned).value();
  }

  // Waits until the control port is published (or the host ended).
  void wait_listening() {
    BOOST_TEST_REQUIRE(wait_for_text(err, "control listening", 120s), read_text(err));
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port); }

  // Returns the host's resident set size in bytes, or 0 once it has ended.
  std::uint64_t rss_if_alive() const {
    std::ifstream status{"/proc/" + std::to_string(proc.pid()) + "/status"};
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmRSS:", 0) == 0)
        return std::stoull(line.substr(6)) * 1024;
    return 0;
  }

  // Returns the host's resident set size in bytes.
  std::uint64_t rss() const {
    const auto bytes = rss_if_alive();
    BOOST_TEST_REQUIRE(bytes > 0u, "no VmRSS for pid " << proc.pid());
    return bytes;
  }

  // Returns the CPU time the host has used so far.
  std::chrono::milliseconds cpu_time() const {
    std::ifstream stat{"/proc/" + std::to_string(proc.pid()) + "/stat"};
    std::string text{std::istreambuf_iterator<char>{stat}, std::istreambuf_iterator<char>{}};
    // Fields 14 and 15 (utime, stime, in clock ticks) follow the ")" that ends the name.
    std::istringstream fields{text.substr(text.rfind(')') + 2)};
    std::string field;
    for (int i = 3; i < 14; ++i)
      fields >> field;
    long long utime = 0;
    long long stime = 0;
    fields >> utime >> stime;
    return std::chrono::milliseconds{(utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK)};
  }

  // Counts the file descriptors the host has open (0 once it has ended).
  std::size_t open_fds() const {
    std::error_code ec;
    std::size_t count = 0;
    for (fs::directory_iterator it{"/proc/" + std::to_string(proc.pid()) + "/fd", ec};
         !ec && it != fs::directory_iterator{}; it.increment(ec))
      ++count;
    return count;
  }

  // Stops the host with SIGTERM and checks that it ended cleanly.
  void stop() {
    BOOST_TEST_REQUIRE(proc.send_signal(SIGTERM).has_value());
    auto exit = proc.wait_for(60s);
    BOOST_TEST_REQUIRE(exit.has_value());
    BOOST_TEST(exit.value().clean(), exit.value().describe() << "\n" << read_text(err));
  }
};

// Generates a TLS directory of its own (a separate CA) through the library.
fs::path make_tls_dir(const fs::path& dir) {
  cellhub::test::generate_tls_credentials(dir);
  return dir;
}

// Accepts every connection on a loopback port and never writes a byte, like a
// server that waits for its client to speak.
struct silent_listener {
  loopback_listener listener{16};
  std::atomic<int> accepted{0};
  std::atomic<bool> done{false};
  std::vector<int> clients;
  std::thread thread;

  silent_listener() {
    thread = std::thread{[this] {
      while (!done) {
        pollfd pfd{listener.fd, POLLIN, 0};
        if (::poll(&pfd, 1, 100) == 1) {
          const int client = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (client >= 0) {
            clients.push_back(client);
            ++accepted;
          }
        }
      }
    }};
  }
  ~silent_listener() {
    done = true;
    thread.join();
    for (int c : clients)
      ::close(c);
  }
  std::string endpoint() const { return listener.endpoint(); }
};

// Connects to `port`, sends one 32-byte BASP header (CAF 0.17.6's basp::header, as
// its binary_serializer writes it: network byte order) that claims a 4 GiB payload.
// A plain CAF host resizes its read buffer to the claimed length at once.
int send_huge_basp_header(std::uint16_t port) {
  const int fd = connect_loopback(port);
  std::array<unsigned char, 32> header{};
  header[0] = 0x01; // operation: client_handshake (valid with both actor ids 0)
  // header[1..2] padding, header[3] flags
  for (int i = 4; i < 8; ++i)
    header[static_cast<std::size_t>(i)] = 0xff; // payload_len = 0xffffffff
  // header[8..15] operation_data, [16..23] source_actor, [24..31] dest_actor: 0
  BOOST_TEST_REQUIRE(::send(fd, header.data(), header.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(header.size()));
  return fd;
}

// Waits until the peer closes `fd` (EOF or reset), with a deadline.
bool closed_by_peer(int fd, clock_type::duration limit) {
  const auto deadline = clock_type::now() + limit;
  std::array<char, 4096> buffer{};
  while (clock_type::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 200) != 1)
      continue;
    const auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
      return true; // anything it wrote first (a TLS alert) was read above
  }
  return false;
}

// Opens a TCP connection to the loopback `port` and sends nothing: a client that
// never starts its TLS handshake.
int connect_idle(std::uint16_t port) {
  return connect_loopback(port);
}

// Many client connections, and which of them the host has closed.
struct connection_set {
  std::vector<int> fds;
  std::vector<bool> closed;
  std::size_t closed_count = 0;

  connection_set() = default;
  connection_set(const connection_set&) = delete;
  connection_set& operator=(const connection_set&) = delete;
  ~connection_set() {
    for (int fd : fds)
      ::close(fd);
  }

  void add(int fd) {
    fds.push_back(fd);
    closed.push_back(false);
  }

  // Waits until the host has closed at least `enough` of the connections (EOF or
  // reset), calling `sample` between waits; gives up after `limit`.
  bool wait_closed(std::size_t enough, clock_type::duration limit,
                   const std::function<void()>& sample) {
    const auto deadline = clock_type::now() + limit;
    std::array<char, 4096> buffer{};
    while (closed_count < enough && clock_type::now() < deadline) {
      std::vector<pollfd> open;
      std::vector<std::size_t> index;
      for (std::size_t i = 0; i < fds.size(); ++i)
        if (!closed[i]) {
          open.push_back({fds[i], POLLIN, 0});
          index.push_back(i);
        }
      if (::poll(open.data(), open.size(), 100) > 0)
        for (std::size_t k = 0; k < open.size(); ++k) {
          if (open[k].revents == 0)
            continue;
          const auto n = ::recv(open[k].fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            closed[index[k]] = true;
            ++closed_count;
          }
        }
      sample();
    }
    return closed_count >= enough;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_remote)

BOOST_AUTO_TEST_CASE(status_restart_and_stop_work_over_mutual_tls_with_generated_credentials) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-ok", {"--tls-dir", tls.string()}};
  h.wait_listening();
  const auto err = read_text(h.err);
  BOOST_TEST(contains(err, "generated TLS credentials"), err);
  BOOST_TEST(contains(err, "mutual TLS"), err);

  const auto flags = " --connect " + h.endpoint() + " --tls-dir " + tls.string();
  const auto status = run_capture(cellhub_cmd("status --json" + flags));
  BOOST_TEST_REQUIRE(status.code == 0, status.output);
  std::set<std::string> names;
  for (const auto& cell : nlohmann::json::parse(status.output))
    names.insert(cell["name"].get<std::string>());
  BOOST_TEST((names == std::set<std::string>{"w1"}));

  const auto restart = run_capture(cellhub_cmd("restart w1" + flags));
  BOOST_TEST(restart.code == 0, restart.output);
  BOOST_TEST(contains(restart.output, "restarted w1"), restart.output);

  const auto stop = run_capture(cellhub_cmd("stop" + flags));
  BOOST_TEST(stop.code == 0, stop.output);
  BOOST_TEST(contains(stop.output, "stopping"), stop.output);
  auto exit = h.proc.wait_for(60s);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(exit.value().clean(), exit.value().describe());
  BOOST_TEST(!fs::exists(h.hub_path));
}

BOOST_AUTO_TEST_CASE(listen_without_tls_files_creates_private_ones_in_the_default_directory) {
  scratch tmp;
  const auto xdg = tmp.dir / "xdg";
  host h{tmp, "tls-default", {}, {{"XDG_CONFIG_HOME", xdg.string()}, {"CELLHUB_TLS_DIR", ""}}};
  h.wait_listening();
  const auto dir = xdg / "cellhub" / "tls";
  BOOST_TEST(mode_of(xdg) == 0700u);
  BOOST_TEST(mode_of(dir) == 0700u);
  for (const char* name : {"ca.pem", "ca-key.pem", "cert.pem", "key.pem"})
    BOOST_TEST(mode_of(dir / name) == 0600u, name);

  // The commands find the same files the same way, and through CELLHUB_TLS_DIR.
  const auto by_xdg = run_capture("env -u CELLHUB_TLS_DIR XDG_CONFIG_HOME=" + xdg.string() + " " +
                                  cellhub_cmd("status --connect " + h.endpoint()));
  BOOST_TEST(by_xdg.code == 0, by_xdg.output);
  const auto by_env = run_capture("env CELLHUB_TLS_DIR=" + dir.string() + " " +
                                  cellhub_cmd("status --connect " + h.endpoint()));
  BOOST_TEST(by_env.code == 0, by_env.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(client_of_another_ca_or_without_tls_is_refused_and_the_host_keeps_serving) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-refuse", {"--tls-dir", tls.string()}};
  h.wait_listening();
  const auto foreign = make_tls_dir(tmp.dir / "foreign");

  for (const char* command : {"status", "stop"}) {
    const auto refused = run_capture(cellhub_cmd(std::string{command} + " --connect " +
                                                 h.endpoint() + " --tls-dir " + foreign.string()));
    BOOST_TEST(refused.code == 1, refused.output);
    BOOST_TEST(contains(refused.output, "handshake"), refused.output);
  }
  // Plain BASP never gets past the host's TLS: the client's first bytes (its BASP
  // handshake) end the host's TLS handshake, and the link.
  const auto plain =
      run_capture(cellhub_cmd("stop --insecure --timeout 300s --connect " + h.endpoint()));
  BOOST_TEST(plain.code == 1, plain.output);
  BOOST_TEST(contains(plain.output, "handshake"), plain.output);
  BOOST_TEST(plain.took < hang_guard);

  BOOST_TEST(h.proc.running());
  const auto ok =
      run_capture(cellhub_cmd("status --connect " + h.endpoint() + " --tls-dir " + tls.string()));
  BOOST_TEST(ok.code == 0, ok.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(certificate_issued_with_the_openssl_command_as_documented_is_accepted) {
  // The steps of docs/remote.md for another user or host, with the openssl command.
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-openssl", {"--tls-dir", tls.string()}};
  h.wait_listening();
  const auto guest = tmp.dir / "guest";
  const auto script = "set -e; umask 077; mkdir -m 700 '" + guest.string() + "'; cd '" +
                      guest.string() + "'; cp '" + (tls / "ca.pem").string() +
                      "' ca.pem; "
                      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                      "-keyout key.pem -out guest.csr -subj '/O=cellhub/CN=guest@elsewhere'; "
                      "printf 'basicConstraints=critical,CA:FALSE\\n"
                      "keyUsage=critical,digitalSignature\\n"
                      "extendedKeyUsage=serverAuth,clientAuth\\n' > ext.cnf; "
                      "openssl x509 -req -in guest.csr -CA '" +
                      (tls / "ca.pem").string() + "' -CAkey '" + (tls / "ca-key.pem").string() +
                      "' -set_serial 0x$(openssl rand -hex 16) -days 365 -sha256 "
                      "-extfile ext.cnf -out cert.pem; "
                      "rm guest.csr ext.cnf";
  const auto issued = run_capture("(" + script + ")");
  BOOST_TEST_REQUIRE(issued.code == 0, issued.output);
  const auto status =
      run_capture(cellhub_cmd("status --connect " + h.endpoint() + " --tls-dir " + guest.string()));
  BOOST_TEST(status.code == 0, status.output);
  BOOST_TEST(contains(status.output, "w1"), status.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(basp_header_claiming_4_gib_costs_the_host_no_memory) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-dos", {"--tls-dir", tls.string()}};
  h.wait_listening();
  const auto before = h.rss();
  // Five connections: before TLS, each cost a plain host 4 GiB.
  std::vector<int> attackers;
  for (int i = 0; i < 5; ++i)
    attackers.push_back(send_huge_basp_header(h.port));
  // The host's TLS layer reads the bytes as a broken handshake and hangs up; a
  // plain host keeps the connection open waiting for the 4 GiB.
  for (int fd : attackers) {
    BOOST_TEST(closed_by_peer(fd, 30s));
    ::close(fd);
  }
  const auto after = h.rss();
  BOOST_TEST(after < before + 50u * 1024 * 1024, "RSS " << before << " -> " << after);
  BOOST_TEST(h.proc.running());
  const auto ok =
      run_capture(cellhub_cmd("status --connect " + h.endpoint() + " --tls-dir " + tls.string()));
  BOOST_TEST(ok.code == 0, ok.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(flood_of_idle_unauthenticated_connections_costs_the_host_at_most_its_cap) {
  // The host's fd table holds 200; each connection that never finishes its TLS
  // handshake cost an fd until the client went away, so 300 of them used to fill
  // it, and the OpenSSL module then threw in the I/O thread (it could not reopen
  // the certificate for the next connection) and the host aborted.
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-flood", {"--tls-dir", tls.string()}, {}, 200};
  h.wait_listening();
  const auto fds_before = h.open_fds();
  const auto rss_before = h.rss();
  std::size_t fds_most = fds_before;
  std::uint64_t rss_most = rss_before;
  auto sample = [&] {
    fds_most = std::max(fds_most, h.open_fds());
    rss_most = std::max(rss_most, h.rss_if_alive());
  };
  constexpr std::size_t flood_size = 300;
  constexpr std::size_t cap = 32; // remote::handshake_limits{}.max_pending
  const auto flood_start = clock_type::now();
  connection_set flood;
  for (std::size_t i = 0; i < flood_size; ++i) {
    flood.add(connect_idle(h.port));
    if (i % 16 == 0)
      sample();
  }
  // Past the cap, each new connection makes the host close the oldest one still in
  // its handshake at once: all but the newest `cap` are closed without a wait.
  BOOST_TEST_REQUIRE(flood.wait_closed(flood_size - cap, hang_guard, sample),
                     flood.closed_count << " closed; " << read_text(h.err));
  BOOST_TEST_REQUIRE(h.proc.running(), read_text(h.err));
  const auto held = flood_size - flood.closed_count;
  // Every flood connection is still open on this side, and the host may still
  // hold up to `cap` of them in their handshake: a legitimate client gets in.
  const auto status =
      run_capture(cellhub_cmd("status --connect " + h.endpoint() + " --tls-dir " + tls.string()));
  BOOST_TEST(status.code == 0, status.output);
  BOOST_TEST(contains(status.output, "w1"), status.output);
  // The handshake deadline closes the rest.
  BOOST_TEST(flood.wait_closed(flood_size, hang_guard, sample), flood.closed_count << " closed");
  const auto all_closed_after = clock_type::now() - flood_start;
  BOOST_TEST(h.proc.running(), read_text(h.err));
  BOOST_TEST(fds_most <= fds_before + cap + 8,
             fds_before << " fds before, " << fds_most << " at most during the flood");
  // Loose, for the sanitizers' quarantine, which keeps what every connection freed
  // (a Release host grows 0.4 MB); a connection that cost what a BASP header
  // claims would cost gigabytes.
  BOOST_TEST(rss_most < rss_before + 64u * 1024 * 1024, "RSS " << rss_before << " -> " << rss_most);
  BOOST_TEST_MESSAGE(
      "flood of " << flood_size << ": host fds " << fds_before << " -> at most " << fds_most
                  << ", RSS " << rss_before / 1024 << " -> at most " << rss_most / 1024 << " KiB; "
                  << held << " still held when status ran; all closed after "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(all_closed_after).count()
                  << " ms");
  h.stop();
}

BOOST_AUTO_TEST_CASE(connection_that_never_finishes_its_tls_handshake_is_closed_at_the_deadline) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-idle", {"--tls-dir", tls.string()}};
  h.wait_listening();
  connection_set clients;
  const auto cpu_before = h.cpu_time();
  const auto start = clock_type::now();
  clients.add(connect_idle(h.port)); // says nothing at all
  const int stalled = connect_idle(h.port);
  clients.add(stalled);
  // The header of a TLS handshake record that announces 512 bytes, and no more.
  const std::array<unsigned char, 5> record{0x16, 0x03, 0x01, 0x02, 0x00};
  BOOST_TEST_REQUIRE(::send(stalled, record.data(), record.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(record.size()));
  BOOST_TEST(clients.wait_closed(2, hang_guard, [] {}), clients.closed_count << " closed");
  const auto took = clock_type::now() - start;
  const auto cpu_used = h.cpu_time() - cpu_before;
  BOOST_TEST_MESSAGE("idle handshakes closed after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms; the host used " << cpu_used.count() << " ms of CPU meanwhile");
  // Waiting costs the host nothing: CAF's stream polled a socket for writing as
  // long as the broker's first bytes waited behind the handshake, spinning its I/O
  // thread for as long as the client stayed silent.
  BOOST_TEST(cpu_used < took / 10, cpu_used.count() << " ms of CPU");
  BOOST_TEST(h.proc.running());
  const auto ok =
      run_capture(cellhub_cmd("status --connect " + h.endpoint() + " --tls-dir " + tls.string()));
  BOOST_TEST(ok.code == 0, ok.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(host_stops_cleanly_while_unauthenticated_handshakes_are_pending) {
  // A silent client kept CAF's stream waiting to write, and the middleman's stop
  // waited for that stream: the host did not end while the client stayed.
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  host h{tmp, "tls-stop", {"--tls-dir", tls.string()}};
  h.wait_listening();
  connection_set clients;
  for (int i = 0; i < 3; ++i)
    clients.add(connect_idle(h.port));
  // The host accepts them at once; it stops its cells before its middleman.
  const auto start = clock_type::now();
  h.stop();
  BOOST_TEST_MESSAGE(
      "stopped after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start).count()
      << " ms with 3 handshakes pending");
}

BOOST_AUTO_TEST_CASE(insecure_listens_plain_on_loopback_and_is_refused_elsewhere) {
  scratch tmp;
  const auto xdg = tmp.dir / "xdg";
  const auto config = tmp.write("c.toml", cluster_toml(cellhub::test::unique_hub_path("insec")));
  const auto everywhere = run_capture(cellhub_cmd("run " + config.string() +
                                                  " --plain --insecure --bind 0.0.0.0 --listen " +
                                                  std::to_string(free_port())));
  BOOST_TEST(everywhere.code == 2, everywhere.output);
  BOOST_TEST(contains(everywhere.output, "loopback"), everywhere.output);
  const auto both = run_capture(cellhub_cmd("run " + config.string() + " --insecure --tls-dir " +
                                            tmp.dir.string() + " --listen 1"));
  BOOST_TEST(both.code == 2, both.output);
  for (const char* flag : {" --insecure", " --tls-dir /tmp"}) {
    const auto alone = run_capture(cellhub_cmd("run " + config.string() + flag));
    BOOST_TEST(alone.code == 2, flag << ": " << alone.output); // they need --listen
  }
  const auto client = run_capture(cellhub_cmd("status --insecure --connect 10.1.2.3:4242"));
  BOOST_TEST(client.code == 2, client.output);
  BOOST_TEST(contains(client.output, "loopback"), client.output);

  host h{tmp, "insecure", {"--insecure"}, {{"XDG_CONFIG_HOME", xdg.string()}}};
  h.wait_listening();
  BOOST_TEST(contains(read_text(h.err), "INSECURE"), read_text(h.err));
  BOOST_TEST(!fs::exists(xdg)); // no credentials were made or read
  const auto plain = run_capture(cellhub_cmd("status --insecure --connect " + h.endpoint()));
  BOOST_TEST(plain.code == 0, plain.output);
  // A TLS client meets plain BASP where it expects a TLS handshake: refused at once,
  // not at the deadline.
  const auto tls = make_tls_dir(tmp.dir / "tls");
  const auto refused = run_capture(
      cellhub_cmd("status --timeout 60s --connect " + h.endpoint() + " --tls-dir " + tls.string()));
  BOOST_TEST(refused.code == 1, refused.output);
  BOOST_TEST(refused.took < hang_guard);
  BOOST_TEST(contains(refused.output, "handshake"), refused.output);
  h.stop();
}

BOOST_AUTO_TEST_CASE(group_readable_key_is_refused_by_run_and_by_status) {
  scratch tmp;
  const auto tls = make_tls_dir(tmp.dir / "tls");
  fs::permissions(tls / "key.pem",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read,
                  fs::perm_options::replace);
  const auto hub_path = cellhub::test::unique_hub_path("badkey");
  const auto config = tmp.write("c.toml", cluster_toml(hub_path));
  const auto run =
      run_capture(cellhub_cmd("run " + config.string() + " --plain --tls-dir " + tls.string() +
                              " --listen " + std::to_string(free_port())));
  BOOST_TEST(run.code == 1, run.output);
  BOOST_TEST(contains(run.output, "key.pem"), run.output);
  BOOST_TEST(contains(run.output, "0640"), run.output);
  BOOST_TEST(!fs::exists(hub_path)); // refused before anything started
  const auto status =
      run_capture(cellhub_cmd("status --connect 127.0.0.1:1 --tls-dir " + tls.string()));
  BOOST_TEST(status.code == 1, status.output);
  BOOST_TEST(contains(status.output, "0640"), status.output);
  BOOST_TEST(mode_of(tls / "key.pem") == 0640u); // reported, never changed
}

BOOST_AUTO_TEST_CASE(commands_against_a_server_that_never_speaks_give_up_at_the_deadline) {
  scratch tmp;
  const auto tls = make_tls_dir(tmp.dir / "tls");
  silent_listener server;
  for (const std::string& mode : {" --tls-dir " + tls.string(), std::string{" --insecure"}})
    for (const char* command : {"status", "restart w1", "stop"}) {
      const auto before = server.accepted.load();
      const auto result = run_capture(cellhub_cmd(std::string{command} + mode + " --timeout 1s" +
                                                  " --connect " + server.endpoint()));
      BOOST_TEST(result.code == 1, command << mode << ": " << result.output);
      BOOST_TEST(contains(result.output, "no answer from " + server.endpoint() +
                                             " within 1s (is it a cellhub control port?"),
                 result.output);
      BOOST_TEST(result.took < hang_guard);
      BOOST_TEST(server.accepted.load() > before); // it did reach the silent server
    }
}

BOOST_AUTO_TEST_CASE(commands_give_up_at_the_deadline_when_the_tcp_connect_itself_hangs) {
  // A listener with a backlog of 0 that never accepts: once its queue holds one
  // connection, Linux drops every further SYN, so a connect blocks in its SYN
  // retries (about two minutes) — inside CAF's middleman actor, which the actor
  // system's destructor waits for. The command must still end at its deadline.
  scratch tmp;
  const auto tls = make_tls_dir(tmp.dir / "tls");
  const loopback_listener listener{0};
  const auto addr = loopback_address(listener.port);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)); // EINPROGRESS
    fillers.push_back(fd);
  }
  const auto endpoint = listener.endpoint();
  for (const std::string& mode : {" --tls-dir " + tls.string(), std::string{" --insecure"}}) {
    const auto result =
        run_capture(cellhub_cmd("status --timeout 1s" + mode + " --connect " + endpoint));
    BOOST_TEST(result.code == 1, result.output);
    BOOST_TEST(contains(result.output, "no answer from " + endpoint + " within 1s"), result.output);
    BOOST_TEST(result.took < hang_guard);
  }
  for (int fd : fillers)
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(commands_to_a_closed_port_fail_at_once_with_a_message) {
  scratch tmp;
  const auto tls = make_tls_dir(tmp.dir / "tls");
  const auto endpoint = "127.0.0.1:" + std::to_string(free_port());
  for (const std::string& mode : {" --tls-dir " + tls.string(), std::string{" --insecure"}}) {
    // A deadline far beyond the hang guard: only a refusal can end it in time.
    const auto result =
        run_capture(cellhub_cmd("status --timeout 300s" + mode + " --connect " + endpoint));
    BOOST_TEST(result.code == 1, result.output);
    BOOST_TEST(contains(result.output, "cannot connect to " + endpoint), result.output);
    BOOST_TEST(result.took < hang_guard);
  }
}

BOOST_AUTO_TEST_CASE(bad_timeout_and_missing_credentials_are_told_apart_from_failures) {
  scratch tmp;
  for (const char* timeout : {"0s", "abc", "5"}) {
    const auto result =
        run_capture(cellhub_cmd(std::string{"status --connect 127.0.0.1:1 --timeout "} + timeout));
    BOOST_TEST(result.code == 2, timeout << ": " << result.output);
    BOOST_TEST(contains(result.output, "--timeout"), result.output);
  }
  // The commands never generate credentials: a CA of their own could not talk to anyone.
  const auto none = tmp.dir / "none";
  const auto missing =
      run_capture(cellhub_cmd("status --connect 127.0.0.1:1 --tls-dir " + none.string()));
  BOOST_TEST(missing.code == 1, missing.output);
  BOOST_TEST(contains(missing.output, "no TLS credentials"), missing.output);
  BOOST_TEST(!fs::exists(none));
}

BOOST_AUTO_TEST_SUITE_END()
