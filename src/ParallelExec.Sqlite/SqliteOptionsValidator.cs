using System.Globalization;

namespace ParallelExec.Sqlite;

/// <summary>
/// Checks <see cref="SqliteMemoryStoreOptions"/> and throws one <see cref="ArgumentException"/> listing every invalid
/// value, in the same format as the core library's options (the core's validator is internal to its assembly).
/// </summary>
internal static class SqliteOptionsValidator
{
    public static void Validate(SqliteMemoryStoreOptions options)
    {
        var errors = new List<(string Name, string Value, string Reason)>();
        if (string.IsNullOrEmpty(options.DataSource))
        {
            errors.Add((nameof(options.DataSource), options.DataSource is null ? "null" : "\"\"", "must be a file path or :memory:"));
        }

        if (options.TimeProvider is null)
        {
            errors.Add((nameof(options.TimeProvider), "null", "must not be null"));
        }

        if (options.BusyTimeout <= TimeSpan.Zero)
        {
            errors.Add((nameof(options.BusyTimeout), options.BusyTimeout.ToString("c", CultureInfo.InvariantCulture), "must be greater than zero"));
        }

        if (options.MaxBusyRetries < 0)
        {
            errors.Add((nameof(options.MaxBusyRetries), options.MaxBusyRetries.ToString(CultureInfo.InvariantCulture), "must be zero or greater"));
        }

        if (options.BusyRetryDelay <= TimeSpan.Zero)
        {
            errors.Add((nameof(options.BusyRetryDelay), options.BusyRetryDelay.ToString("c", CultureInfo.InvariantCulture), "must be greater than zero"));
        }

        if (errors.Count > 0)
        {
            var message = "Invalid SqliteMemoryStoreOptions: " + string.Join("; ", errors.Select(e => $"{e.Name} = {e.Value}: {e.Reason}")) + ".";
            throw new ArgumentException(message, errors[0].Name);
        }
    }
}
