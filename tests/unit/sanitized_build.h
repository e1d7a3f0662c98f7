// Time bounds in tests are about complexity (no quadratic blow-up, no hang), measured for an
// optimised build. An ASan/UBSan or TSan build at -O0 runs the same code 20-30 times slower
// (measured: 10 s of CPU for what takes 0.4 s in the release build), so its bounds are scaled
// by this factor; a quadratic path still overshoots them by orders of magnitude.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 30;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr int kSanitizerSlowdown = 30;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif
