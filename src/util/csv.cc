#include "simtune/csv.h"

#include <charconv>
#include <system_error>

#include "simtune/result.h"

namespace simtune {

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string ShortestReal(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  SIMTUNE_CHECK(ec == std::errc());
  return std::string(buffer, end);
}

}  // namespace simtune
