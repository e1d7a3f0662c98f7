// The tiktoken encodings the gateway counts usage with.
#pragma once

namespace tokenizer {

enum class Encoding { kCl100kBase, kO200kBase };

}  // namespace tokenizer
