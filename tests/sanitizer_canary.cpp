// Planted bugs for the sanitizer pass (NORMLAB_SANITIZE builds only): each mode
// must be reported, so a pass that ran uninstrumented, or with a report turned
// into a warning, fails its test instead of passing silently.
//   sanitizer_canary heap   reads one element past a heap array (ASan)
//   sanitizer_canary int    overflows a signed int (UBSan)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  // The index and operand come from the command line, so the compiler cannot fold them away.
  const int n = int(std::strlen(argv[1]));
  if (std::strcmp(argv[1], "heap") == 0) {
    std::vector<int>* v = new std::vector<int>(std::size_t(n), 1);
    const int past = v->data()[n];  // one past the end
    std::printf("read %d\n", past);
    delete v;
    return 0;
  }
  if (std::strcmp(argv[1], "int") == 0) {
    int big = 2147483647 - 3 + n;  // INT_MAX
    big += n;                      // overflow
    std::printf("sum %d\n", big);
    return 0;
  }
  return 2;
}
