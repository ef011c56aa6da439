// Reading whole files: one helper for every concept that reads a text or binary file at once
// (model files, target files, ELF images, caches, sysfs values).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace simtune {

// The file's bytes, or nullopt when it cannot be opened (missing, a folder, no permission).
// Callers say what the file was and where its name came from in their own error.
std::optional<std::string> ReadWholeFile(const std::filesystem::path& path);

// The file's first line, trimmed; "" when it cannot be read (sysfs values: "32K", "8").
std::string ReadFirstLine(const std::filesystem::path& path);

}  // namespace simtune
