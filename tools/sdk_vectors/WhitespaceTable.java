// Prints every code point Java's Character.isWhitespace(char) calls whitespace: the "blank" of
// the official Java SDK's StringUtils.isEmpty, which tests each UTF-16 char of a value.
// Run by tools/make_sdk_vectors.py as `java WhitespaceTable.java`; never by the test suite.
public class WhitespaceTable {
    public static void main(String[] args) {
        System.out.println("java " + System.getProperty("java.version"));
        for (int c = 0; c <= 0xFFFF; c++) {
            if (Character.isWhitespace((char) c)) {
                System.out.println(c);
            }
        }
    }
}
