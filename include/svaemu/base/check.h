// SVAEMU_CHECK: assertions on the emulator's own invariants.
//
// Use only for bugs in svaemu itself. Bad input from a guest gets the
// hardware's answer (a fault record, an event, an error register); misuse of
// the C++ API gets an absl::Status. Neither may reach SVAEMU_CHECK.
#ifndef SVAEMU_BASE_CHECK_H_
#define SVAEMU_BASE_CHECK_H_

namespace svaemu::internal {
[[noreturn]] void CheckFailed(const char* cond, const char* file, int line,
                              const char* msg);
}  // namespace svaemu::internal

#define SVAEMU_CHECK(cond)                                               \
  do {                                                                   \
    if (__builtin_expect(!(cond), 0))                                    \
      ::svaemu::internal::CheckFailed(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define SVAEMU_CHECK_MSG(cond, msg)                                      \
  do {                                                                   \
    if (__builtin_expect(!(cond), 0))                                    \
      ::svaemu::internal::CheckFailed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)

#endif  // SVAEMU_BASE_CHECK_H_
