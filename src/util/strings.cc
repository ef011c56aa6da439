#include "simtune/strings.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

namespace simtune {

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& group : Split(text, ';')) {
    bool open = false;   // the last item may take "key=value" continuations
    for (const auto& part : Split(group, ',')) {
      std::string item = Trim(part);
      if (item.empty()) {
        open = false;
        continue;
      }
      size_t eq = item.find('='), colon = item.find(':');
      bool continuation = eq != std::string::npos && (colon == std::string::npos || colon > eq);
      if (continuation && open) {
        out.back() += "," + item;
      } else {
        out.push_back(item);
        open = colon != std::string::npos && (eq == std::string::npos || colon < eq);
      }
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string Trim(std::string_view text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(b, e - b + 1));
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

Result<int64_t> ParseInt(std::string_view text, std::string_view what) {
  std::string s(text);
  if (s.empty()) return Error{std::string(what) + ": expected an integer; got ''"};
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || s[0] == ' ' || s[0] == '+')
    return Error{std::string(what) + ": expected an integer; got '" + s + "'"};
  if (errno == ERANGE) return Error{std::string(what) + ": integer out of range; got '" + s + "'"};
  return static_cast<int64_t>(v);
}

Result<double> ParseDouble(std::string_view text, std::string_view what) {
  std::string s(text);
  if (s.empty()) return Error{std::string(what) + ": expected a number; got ''"};
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || s[0] == ' ' || !std::isfinite(v) || errno == ERANGE)
    return Error{std::string(what) + ": expected a number; got '" + s + "'"};
  return v;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseKeyValues(std::string_view text,
                                                                       std::string_view kind) {
  std::vector<std::pair<std::string, std::string>> out;
  if (Trim(text).empty()) return out;
  std::set<std::string> seen;
  for (const auto& item : Split(text, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      return Error{std::string(kind) + " '" + item + "': expected key=value"};
    std::string key = Trim(item.substr(0, eq));
    if (!seen.insert(key).second) return Error{std::string(kind) + " " + key + ": given twice"};
    out.emplace_back(key, Trim(item.substr(eq + 1)));
  }
  return out;
}

std::string SanitizeUtf8(std::string_view text) {
  static const char kReplacement[] = "\xEF\xBF\xBD";   // U+FFFD
  std::string out;
  out.reserve(text.size());
  size_t i = 0, n = text.size();
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < n) {
    unsigned char c = byte(i);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok && len > 1) {
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (byte(i + k) & 0x3F);
      static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;   // resynchronise on the next byte
    }
  }
  return out;
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DumpJson(const nlohmann::ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string ElideMiddle(std::string_view head, size_t dropped, std::string_view tail) {
  std::string out(head);
  if (dropped > 0) out += "\n...[" + std::to_string(dropped) + " bytes dropped]...\n";
  out += tail;
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // Plausible typo: about a third of the name's letters wrong (at least two allowed).
  size_t limit = std::max<size_t>(2, (name.size() + 2) / 3);
  return best_d <= limit ? best : "";
}

Error UnknownName(std::string_view kind, std::string_view name,
                  const std::vector<std::string>& valid) {
  std::string msg = "unknown " + std::string(kind) + " '" + std::string(name) + "'";
  std::string s = Suggest(name, valid);
  msg += s.empty() ? ";" : "; did you mean '" + s + "'?";
  msg += " valid: " + Join(valid, ", ");
  return Error{msg};
}

std::string UtcNow(const char* format) {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

}  // namespace simtune
