#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include "log_capture.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace tr = cellhub::transport;
using namespace std::string_literals;

namespace cellhub::transport {
// Calls quoted() unqualified with a std::string, as code inside the namespace does.
std::string quote_unqualified(const std::string& name) {
  return quoted(name);
}
std::string quote_unqualified_mutable(std::string name) {
  return quoted(name);
}
} // namespace cellhub::transport

BOOST_AUTO_TEST_SUITE(quoted_text)

BOOST_AUTO_TEST_CASE(plain_text_is_wrapped_in_double_quotes) {
  BOOST_TEST(tr::quoted("my-cell") == R"("my-cell")");
  BOOST_TEST(tr::quoted("") == R"("")");
  BOOST_TEST(tr::quoted("a b/c=d") == R"("a b/c=d")");
}

BOOST_AUTO_TEST_CASE(quotes_and_backslashes_are_escaped) {
  BOOST_TEST(tr::quoted(R"(say "hi")") == R"("say \"hi\"")");
  BOOST_TEST(tr::quoted(R"(a\b)") == R"("a\\b")");
  BOOST_TEST(tr::quoted(R"(\")") == R"("\\\"")");
}

BOOST_AUTO_TEST_CASE(line_breaks_and_tabs_use_their_short_escapes) {
  BOOST_TEST(tr::quoted("a\nb\rc\td") == R"("a\nb\rc\td")");
}

BOOST_AUTO_TEST_CASE(other_control_bytes_and_delete_become_hex_escapes) {
  BOOST_TEST(tr::quoted("\x01\x1b[31m\x7f") == R"("\x01\x1b[31m\x7f")");
  BOOST_TEST(tr::quoted("a\0b"s) == R"("a\x00b")");
}

BOOST_AUTO_TEST_CASE(well_formed_utf8_passes_through) {
  BOOST_TEST(tr::quoted("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
             "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

BOOST_AUTO_TEST_CASE(malformed_utf8_bytes_become_hex_escapes) {
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate,
  // a code point above U+10FFFF and a byte that never starts a sequence.
  BOOST_TEST(tr::quoted("\x80") == R"("\x80")");
  BOOST_TEST(tr::quoted("\xe2\x82") == R"("\xe2\x82")");
  BOOST_TEST(tr::quoted("\xc0\xaf") == R"("\xc0\xaf")");
  BOOST_TEST(tr::quoted("\xed\xa0\x80") == R"("\xed\xa0\x80")");
  BOOST_TEST(tr::quoted("\xf4\x90\x80\x80") == R"("\xf4\x90\x80\x80")");
  BOOST_TEST(tr::quoted("\xff") == R"("\xff")");
  BOOST_TEST(tr::quoted("\xe2\x41") == R"("\xe2A")");
}

BOOST_AUTO_TEST_CASE(unicode_line_breakers_become_hex_escapes) {
  // NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029).
  BOOST_TEST(tr::quoted("a\xc2\x85z") == R"("a\xc2\x85z")");
  BOOST_TEST(tr::quoted("\xe2\x80\xa8\xe2\x80\xa9") == R"("\xe2\x80\xa8\xe2\x80\xa9")");
}

BOOST_AUTO_TEST_CASE(output_is_printable_ascii_or_utf8_without_line_breaks) {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte)
    every_byte += static_cast<char>(byte);
  const auto text = tr::quoted(every_byte);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    BOOST_TEST((byte >= 0x20 && byte < 0x7f), "byte " << static_cast<int>(byte));
  }
  // Exactly the opening and closing quotes are unescaped.
  std::size_t bare_quotes = 0;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '"' && (i == 0 || text[i - 1] != '\\'))
      ++bare_quotes;
  BOOST_TEST(bare_quotes == 2u);
}

BOOST_AUTO_TEST_CASE(unqualified_call_with_a_std_string_is_not_std_quoted) {
  // Without the std::string overload this would not compile: ADL would pick std::quoted.
  BOOST_TEST(tr::quote_unqualified("a\"b\nc") == R"("a\"b\nc")");
  BOOST_TEST(tr::quote_unqualified_mutable("a\"b\nc") == R"("a\"b\nc")");
}

BOOST_AUTO_TEST_CASE(a_name_with_a_newline_cannot_forge_a_log_line) {
  cellhub::test::log_capture capture;
  const std::string name = "x\"\n12:00:00.000000 ERROR peer_id=9 peer_name=\"victim\" forged";
  tr::logger()->warn("peer_id=1 peer_name={} Cell died", tr::quoted(name));
  const auto text = capture.text();
  // One record, one line: the newline and the quote stayed inside the value.
  BOOST_TEST(capture.count("\n") == 1u);
  BOOST_TEST(capture.count(" WARN ") == 1u);
  BOOST_TEST(
      text.find(
          R"(peer_name="x\"\n12:00:00.000000 ERROR peer_id=9 peer_name=\"victim\" forged")") !=
      std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
