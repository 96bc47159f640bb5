// Just enough of commons-logging for the SDK's SpiUtils to compile and load.
package org.apache.commons.logging;

public final class LogFactory {
    private LogFactory() {}

    public static Log getLog(Class<?> owner) {
        return message -> {};
    }
}
