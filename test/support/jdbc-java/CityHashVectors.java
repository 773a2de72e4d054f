// Prints clickhouse-java's own CityHash128 (com.clickhouse.data.ClickHouseCityHash, the one its
// reader checks every compressed block with) of the first n bytes of a fixed pattern, as the
// expected values of src/warehouse/cityhash.test.ts. Run by hand, once:
//   CP=<clickhouse-data jar>; javac -cp $CP -d /tmp/th-x CityHashVectors.java && java -cp $CP:/tmp/th-x CityHashVectors
// The pattern is the test's own: s = s * 1664525 + 1013904223 (mod 2^32) from s = 1, byte = s >>> 24.
import com.clickhouse.data.ClickHouseCityHash;

public final class CityHashVectors {
  public static void main(String[] args) {
    int[] lengths = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200, 1000, 4096, 100000};
    byte[] data = new byte[100000];
    int s = 1;
    for (int i = 0; i < data.length; i++) {
      s = s * 1664525 + 1013904223;
      data[i] = (byte) (s >>> 24);
    }
    for (int n : lengths) {
      long[] h = ClickHouseCityHash.cityHash128(data, 0, n);
      System.out.printf("  [%d, 0x%016xn, 0x%016xn],%n", n, h[0], h[1]);
    }
  }
}
