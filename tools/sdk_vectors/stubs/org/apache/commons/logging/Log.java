// Just enough of commons-logging for the SDK's SpiUtils to compile and load (never logs).
package org.apache.commons.logging;

public interface Log {
    void error(Object message);
}
