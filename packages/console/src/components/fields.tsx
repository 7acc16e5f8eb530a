/**
 * The form fields the console's dialogs share: a labelled text input or text area, a labelled
 * select, and the environment checkboxes. Each is controlled: a value and an `onChange` that gets
 * the new value, not the event.
 */
import type { InputHTMLAttributes, ReactNode } from 'react';
import { Field } from './ui';

type InputAttributes = Pick<
  InputHTMLAttributes<HTMLInputElement>,
  'type' | 'required' | 'autoComplete' | 'maxLength' | 'minLength' | 'placeholder' | 'disabled'
>;

export function TextField({
  label,
  hint,
  value,
  onChange,
  multiline,
  className,
  ...attributes
}: InputAttributes & {
  label: string;
  hint?: ReactNode;
  value: string;
  onChange: (value: string) => void;
  /** A text area (descriptions) instead of one line. */
  multiline?: boolean;
  className?: string;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id) =>
        multiline === true ? (
          <textarea
            id={id}
            className={className}
            required={attributes.required}
            maxLength={attributes.maxLength}
            placeholder={attributes.placeholder}
            disabled={attributes.disabled}
            value={value}
            onChange={(e) => {
              onChange(e.target.value);
            }}
          />
        ) : (
          <input
            id={id}
            className={className}
            {...attributes}
            value={value}
            onChange={(e) => {
              onChange(e.target.value);
            }}
          />
        )
      }
    </Field>
  );
}

export function SelectField<V extends string>({
  label,
  hint,
  value,
  onChange,
  options,
  placeholder,
  required,
  disabled,
}: {
  label: string;
  hint?: ReactNode;
  value: V;
  onChange: (value: V) => void;
  options: readonly { value: V; label: ReactNode }[];
  /** A first option with the empty value (`Choose…`, `Any`): nothing chosen yet. */
  placeholder?: string;
  required?: boolean;
  disabled?: boolean;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id) => (
        <select
          id={id}
          required={required}
          disabled={disabled}
          value={value}
          onChange={(e) => {
            // The options are the values of V, so the chosen one is too.
            onChange(e.target.value as V);
          }}
        >
          {placeholder !== undefined && <option value="">{placeholder}</option>}
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** Checkboxes for environments (`DEV`, `PROD`…): which of `options` are chosen. */
export function EnvironmentChecks({
  legend,
  options,
  value,
  onChange,
  disabled,
  hideLegend,
}: {
  legend: string;
  options: readonly string[];
  value: readonly string[];
  onChange: (value: string[]) => void;
  disabled?: boolean;
  /** The legend is for screen readers only (a card's heading already says it). */
  hideLegend?: boolean;
}) {
  return (
    <fieldset>
      <legend className={hideLegend === true ? 'visually-hidden' : undefined}>{legend}</legend>
      {options.map((env) => (
        <label key={env} className="check-row">
          <input
            type="checkbox"
            checked={value.includes(env)}
            disabled={disabled}
            onChange={() => {
              onChange(value.includes(env) ? value.filter((e) => e !== env) : [...value, env]);
            }}
          />
          {env.toUpperCase()}
        </label>
      ))}
    </fieldset>
  );
}

/** A list's status filter in its toolbar: `Status [Pending ▾]`, the statuses capitalised. */
export function StatusFilter({
  statuses,
  value,
  onChange,
}: {
  statuses: readonly string[];
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <label className="inline-field">
      Status
      <select
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      >
        {statuses.map((s) => (
          <option key={s} value={s}>
            {s.charAt(0).toUpperCase() + s.slice(1)}
          </option>
        ))}
      </select>
    </label>
  );
}
