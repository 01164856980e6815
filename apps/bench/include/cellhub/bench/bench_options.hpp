#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Says which placements the latency and throughput benchmarks measure.
enum class pin_mode {
  /// Lets the scheduler place host and cells anywhere.
  off,
  /// Pins the host to CPU 0 and cells to CPU 1.
  on,
  /// Measures both, unpinned first.
  both,
};

/// Holds everything `cellhub-bench` was asked to do.
struct bench_options {
  /// Runs few iterations and scales only to 100 cells (the CTest smoke run).
  bool quick = false;
  /// Names the benchmarks to run; empty runs them all.
  std::vector<std::string> only;
  /// Names the JSON file to write, or nothing.
  std::string json_path;
  /// Chooses the placements of rtt and throughput.
  pin_mode pin = pin_mode::both;
  /// Bounds how long host and cells spin before they sleep on a doorbell.
  std::chrono::nanoseconds spin = std::chrono::microseconds{100};
  /// Counts the SIGKILLs of the detect and restart benchmarks; the cluster benchmark
  /// kills a tenth as many nodes (at least 3).
  int kills = 200;
  /// Bounds the largest pool of the scale benchmark.
  std::size_t max_cells = 1000;
  /// Bounds each throughput, pipeline and cluster rate measurement (three windows of a
  /// third; the median counts).
  std::chrono::milliseconds window{500};
  /// Lists the payload sizes rtt and throughput measure (64 B, 4 KiB, 64 KiB, 1 MiB).
  std::vector<std::size_t> sizes{64, 4096, 65536, 1u << 20};
  /// Multiplies the rtt and cluster iteration counts.
  double iterations = 1.0;
  /// Shows the transport's warnings (every SIGKILL logs one).
  bool verbose = false;
  /// Names the cellhub-bench-cell program.
  std::string cell_binary;
  /// Names the directory hub files are created in.
  std::string hub_dir = "/dev/shm";
  /// Prints the table as Markdown.
  bool markdown = false;
  /// Lists CAF settings (`key=value`) applied to every actor system the bench
  /// creates, after `actors::prepare_config`.
  std::vector<std::string> caf_settings;
  /// Runs this process as the far node of the cluster benchmark's node-loss rows,
  /// joining the node whose cluster port on 127.0.0.1 this is (0: an ordinary run).
  std::uint16_t node_helper_join = 0;
  /// Names the hub file of that far node's tree.
  std::string node_helper_hub;
};

} // namespace cellhub::bench
