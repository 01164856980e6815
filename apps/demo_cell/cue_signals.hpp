#pragma once

// cue_signals — the demo cell's misbehaviour on cue from outside: SIGUSR1 asks it
// to write garbage into its ring, SIGUSR2 to say goodbye and linger. The handlers
// only set a flag; the cell's loop takes it (async-signal-safe by construction).

namespace cellhub::demo {

/// Names what a cue signal asks the cell to do.
enum class cue : unsigned char {
  /// SIGUSR1: write a bogus descriptor into the cell-to-host ring.
  garbage,
  /// SIGUSR2: say goodbye, then keep running (heartbeating, answering nothing).
  linger,
};

/// Installs the SIGUSR1 and SIGUSR2 handlers (SA_RESTART); returns false if the
/// kernel refused one. Call it once, before the cell serves.
bool install_cue_handlers() noexcept;

/// Takes the flag of `which`: true once per delivery (deliveries not yet taken merge).
bool take_cue(cue which) noexcept;

} // namespace cellhub::demo
