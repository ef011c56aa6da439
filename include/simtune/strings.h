// Small string helpers shared across concepts: splitting, strict number parsing, and the
// "unknown name" error with a did-you-mean suggestion.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "simtune/result.h"

namespace simtune {

std::vector<std::string> Split(std::string_view text, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string Trim(std::string_view text);
bool StartsWith(std::string_view text, std::string_view prefix);

// Parses the whole of `text` as a base-10 integer / finite double. Trailing junk, empty
// input and overflow are errors; `what` names the value in the message, e.g.
// ParseInt("7x", "tile_m") -> "tile_m: expected an integer; got '7x'".
Result<int64_t> ParseInt(std::string_view text, std::string_view what);
Result<double> ParseDouble(std::string_view text, std::string_view what);

// Levenshtein distance, for suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The closest of `candidates` to `name` if it is close enough to be a plausible typo.
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates);

// "unknown <kind> 'foo'; did you mean 'bar'? valid: a, b, c"
Error UnknownName(std::string_view kind, std::string_view name,
                  const std::vector<std::string>& valid);

}  // namespace simtune
