// Writing CSV (RFC 4180): the store's table exports and the tidy candidate table.
#pragma once

#include <string>
#include <string_view>

namespace simtune {

// A field, quoted when it holds a separator, quote or line break; inner quotes doubled.
std::string CsvField(std::string_view text);

// The shortest text that reads back as exactly `value` (std::to_chars).
std::string ShortestReal(double value);

}  // namespace simtune
